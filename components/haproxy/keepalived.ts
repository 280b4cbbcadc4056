import { z } from 'zod';
import { dnsLabel, ipv4, problemsFromZod, strict } from '../../mail-runtime/config';
import { SpecError } from '../spec';
import { absolutePath } from './schema';
import { GENERATED_HEADER } from './haproxy';

/**
 * keepalived (VRRP, RFC 5798 / RFC 3768) for the HAProxy pair on VM
 * platforms: the load-balancer VMs share one virtual IP; the VM with the
 * highest priority whose HAProxy is running holds it.
 *
 * The VRRP password is a secret and never appears in the rendered text: the
 * config `include`s a separate file (keepalived reads includes anywhere in the
 * config), written by the platform from a Pulumi secret. Render that file with
 * `renderKeepalivedAuthFile`. Note VRRPv2 PASS authentication travels in clear
 * on the wire (RFC 3768 §5.3.6.1): it keeps a misconfigured neighbour out, it
 * is not a security boundary. Peers are addressed by unicast, which works on
 * networks that filter multicast (most hypervisor and cloud networks).
 */

export const KEEPALIVED_AUTH_FILE = '/etc/keepalived/vrrp-auth.conf';

/** RFC 3768 §5.3.6.1: the simple-text password field is 8 octets; keepalived truncates longer ones. */
export const VRRP_PASS_MAX = 8;

const ifaceName = z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'must be a network interface name such as eth0 or ens18 (at most 15 characters)');

export const KeepalivedArgs = strict({
  /** Name of the VRRP instance and keepalived router_id, e.g. the cluster name. */
  name: dnsLabel,
  /** The virtual IP (clients and DNS point here). */
  vip: ipv4,
  /** Prefix length of the VIP's subnet. */
  vipPrefix: z.number().int().min(1).max(32).default(24),
  /** Interface that carries the VIP. */
  interface: ifaceName,
  /** 1–254 (255 is reserved for the address owner, RFC 5798 §5.2.4); the highest live one holds the VIP. */
  priority: z.number().int().min(1).max(254),
  /** VRRP router id, 1–255, unique per network segment (RFC 5798 §5.2.3). */
  virtualRouterId: z.number().int().min(1).max(255),
  /** This machine's address (unicast source). */
  sourceAddress: ipv4,
  /** The other load balancers' addresses. */
  peers: z.array(ipv4).min(1, 'a VRRP pair needs at least one peer'),
  /** File holding `auth_pass <password>` (see renderKeepalivedAuthFile); no authentication when absent. */
  authPassFile: absolutePath.optional(),
  /** Command whose success means HAProxy is serving (run as keepalived_script). */
  checkCommand: z.string().regex(/^\/[^"\n]*$/, 'must be an absolute command without quotes or newlines').default('/usr/bin/systemctl is-active --quiet haproxy'),
  /**
   * User the check runs as. keepalived refuses to run a script as a user that
   * does not exist, and Debian's package creates no `keepalived_script` user:
   * root by default (the command is a root-owned binary, which
   * enable_script_security checks). Give an unprivileged user the guest creates.
   */
  scriptUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name').default('root'),
  /** Seconds between VRRP advertisements. */
  advertSeconds: z.number().int().min(1).max(255).default(1),
});
export type KeepalivedArgs = z.output<typeof KeepalivedArgs>;
export type KeepalivedArgsInput = z.input<typeof KeepalivedArgs>;

export function parseKeepalivedArgs(input: KeepalivedArgsInput): KeepalivedArgs {
  const r = KeepalivedArgs.superRefine((a, ctx) => {
    a.peers.forEach((p, i) => {
      if (p === a.sourceAddress) ctx.addIssue({ code: 'custom', path: ['peers', i], message: 'a peer cannot be this machine (sourceAddress)' });
      if (p === a.vip) ctx.addIssue({ code: 'custom', path: ['peers', i], message: 'a peer cannot be the VIP' });
    });
    if (new Set(a.peers).size !== a.peers.length) ctx.addIssue({ code: 'custom', path: ['peers'], message: 'each peer once' });
  }).safeParse(input);
  if (!r.success) throw new SpecError('keepalived config', problemsFromZod(r.error));
  return r.data;
}

const block = (head: string, lines: readonly string[], depth = 0): string[] => {
  const pad = '    '.repeat(depth);
  return [`${pad}${head} {`, ...lines.map((l) => (l.startsWith(' ') ? l : `${pad}    ${l}`)), `${pad}}`];
};

/** Renders keepalived.conf for one load-balancer machine. Pure; throws SpecError on bad args. */
export function renderKeepalivedConfig(input: KeepalivedArgsInput): string {
  const a = parseKeepalivedArgs(input);
  const instance = [
    // Every member starts as BACKUP; the election (priority) picks the master.
    'state BACKUP',
    `interface ${a.interface}`,
    `virtual_router_id ${a.virtualRouterId}`,
    `priority ${a.priority}`,
    `advert_int ${a.advertSeconds}`,
    `unicast_src_ip ${a.sourceAddress}`,
    ...block('unicast_peer', a.peers, 1),
    ...(a.authPassFile ? block('authentication', ['auth_type PASS', `include ${a.authPassFile}`], 1) : []),
    ...block('virtual_ipaddress', [`${a.vip}/${a.vipPrefix} dev ${a.interface}`], 1),
    ...block('track_script', ['chk_haproxy'], 1),
  ];
  const lines = [
    GENERATED_HEADER,
    '',
    ...block('global_defs', [`router_id ${a.name}`, 'enable_script_security', `script_user ${a.scriptUser}`]),
    '',
    // Lose the VIP when HAProxy stops, so the peer takes over.
    ...block('vrrp_script chk_haproxy', [`script "${a.checkCommand}"`, 'interval 2', 'fall 2', 'rise 2']),
    '',
    ...block(`vrrp_instance ${a.name}`, instance),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The content of `authPassFile`: wrap the result in pulumi.secret and deliver
 * it like any other secret file (mode 0600). Throws on a password keepalived
 * would silently truncate or could not parse.
 */
export function renderKeepalivedAuthFile(password: string): string {
  if (!/^[\x21-\x7e]{1,8}$/.test(password) || password.includes('#') || password.includes('!')) {
    throw new SpecError('keepalived auth', [{ path: 'password', message: `must be 1–${VRRP_PASS_MAX} printable characters without spaces, "#" or "!" (VRRP PASS is 8 octets, RFC 3768 §5.3.6.1)` }]);
  }
  return `auth_pass ${password}\n`;
}
