import { toCloudConfigYaml, type CloudConfig, type WriteFile } from './document';

/**
 * cloud-config for a load-balancer VM: HAProxy spreads client connections over
 * proxies and gateways, keepalived moves the virtual IP between the replicas
 * (VRRP). The config texts come from components/haproxy; this module only
 * places them and starts the services. Pure, like ./member.ts.
 */

export interface LoadBalancerUserDataArgs {
  hostname: string;
  domain?: string;
  /** Rendered haproxy.cfg. */
  haproxyConfig: string;
  /** Rendered keepalived.conf; absent when there is no VIP (single replica or an external VIP). */
  keepalivedConfig?: string;
  /** Extra files HAProxy needs (e.g. a PEM bundle); written 0600 root. */
  extraFiles?: readonly { path: string; content: string }[];
  sshAuthorizedKeys?: readonly string[];
  /** Platform guest packages (qemu-guest-agent on Proxmox, open-vm-tools on vSphere). */
  extraPackages?: readonly string[];
}

export const HAPROXY_CONFIG_PATH = '/etc/haproxy/haproxy.cfg';
export const KEEPALIVED_CONFIG_PATH = '/etc/keepalived/keepalived.conf';

export function renderLoadBalancerUserData(args: LoadBalancerUserDataArgs): string {
  const vip = args.keepalivedConfig !== undefined;
  // Deferred: written after the packages are installed, so dpkg's own default
  // config never overwrites ours and no conffile prompt can appear.
  const files: WriteFile[] = [
    { path: HAPROXY_CONFIG_PATH, content: ensureNewline(args.haproxyConfig), permissions: '0640', owner: 'root:haproxy', defer: true },
    ...(vip
      ? [
          // May hold the VRRP auth_pass: root only.
          { path: KEEPALIVED_CONFIG_PATH, content: ensureNewline(args.keepalivedConfig!), permissions: '0600', owner: 'root:root', defer: true },
          // The backup replica's HAProxy binds the VIP it does not hold yet.
          { path: '/etc/sysctl.d/90-mailfleet-lb.conf', content: 'net.ipv4.ip_nonlocal_bind = 1\n', permissions: '0644', owner: 'root:root' },
        ]
      : []),
    ...(args.extraFiles ?? []).map((f) => ({ path: f.path, content: f.content, permissions: '0600', owner: 'root:root', defer: true })),
  ];
  const services = vip ? ['haproxy', 'keepalived'] : ['haproxy'];
  const doc: CloudConfig = {
    hostname: args.hostname,
    ...(args.domain ? { fqdn: `${args.hostname}.${args.domain}` } : {}),
    preserve_hostname: false,
    manage_etc_hosts: true,
    ...(args.sshAuthorizedKeys?.length ? { ssh_authorized_keys: [...args.sshAuthorizedKeys] } : {}),
    package_update: true,
    package_upgrade: false,
    packages: [...new Set([...(vip ? ['haproxy', 'keepalived'] : ['haproxy']), ...(args.extraPackages ?? [])])],
    write_files: files,
    runcmd: [
      ['sysctl', '--system'],
      // Refuse to start on a config HAProxy itself rejects (the error lands in cloud-init's log).
      ['haproxy', '-c', '-f', HAPROXY_CONFIG_PATH],
      ['systemctl', 'enable', ...services],
      ['systemctl', 'restart', ...services],
    ],
    final_message: `mailfleet load balancer ${args.hostname} up after $UPTIME s`,
  };
  return toCloudConfigYaml(doc);
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}
