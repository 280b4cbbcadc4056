import { GUEST_PATHS } from '../render';

/**
 * The systemd unit that runs one mailfleet member. Restart=always keeps the
 * member up through crashes; the hardening options confine it to what a mail
 * process needs: bind low ports (CAP_NET_BIND_SERVICE, nothing else), write
 * only the shared storage, read its config and secrets.
 */

export interface SystemdUnitArgs {
  /** Unit description suffix, e.g. the member id. */
  memberId: string;
  role: string;
  /** Absolute path of the member's RuntimeConfig JSON. */
  configFile: string;
  /** Where the runtime package is unpacked. */
  installDir: string;
  user: string;
  /** Seconds between restarts (systemd RestartSec). */
  restartSec?: number;
}

/** Unit file name for a role: `mailfleet-<role>.service`. */
export function unitName(role: string): string {
  return `mailfleet-${role}.service`;
}

/** Renders the unit file (INI-like systemd syntax, one `Key=value` per line). */
export function renderSystemdUnit(args: SystemdUnitArgs): string {
  const storage = GUEST_PATHS.storage;
  const sections: [string, [string, string][]][] = [
    [
      'Unit',
      [
        ['Description', `mailfleet ${args.role} (${args.memberId})`],
        ['Documentation', 'https://github.com/mailfleet/mailfleet'],
        // The NFS mount must be up before the member touches storage; a
        // member without its storage would only fail its readiness check.
        ['Wants', 'network-online.target'],
        ['After', 'network-online.target remote-fs.target'],
        ['RequiresMountsFor', storage],
      ],
    ],
    [
      'Service',
      [
        ['Type', 'simple'],
        ['User', args.user],
        ['Group', args.user],
        ['Environment', 'NODE_ENV=production'],
        ['WorkingDirectory', args.installDir],
        ['ExecStart', `/usr/bin/node ${args.installDir}/bin/mailfleet.js run --config ${args.configFile}`],
        ['Restart', 'always'],
        ['RestartSec', String(args.restartSec ?? 5)],
        // Mail ports 25/110/143/465/587/993/995/443 are privileged; this is the only capability granted.
        ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
        ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'],
        ['NoNewPrivileges', 'true'],
        ['ProtectSystem', 'strict'],
        ['ReadWritePaths', storage],
        ['ProtectHome', 'true'],
        ['PrivateTmp', 'true'],
        ['PrivateDevices', 'true'],
        ['ProtectKernelTunables', 'true'],
        ['ProtectKernelModules', 'true'],
        ['ProtectKernelLogs', 'true'],
        ['ProtectControlGroups', 'true'],
        ['ProtectClock', 'true'],
        ['ProtectHostname', 'true'],
        ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
        ['RestrictNamespaces', 'true'],
        ['RestrictRealtime', 'true'],
        ['RestrictSUIDSGID', 'true'],
        ['LockPersonality', 'true'],
        ['SystemCallArchitectures', 'native'],
        // No MemoryDenyWriteExecute: V8's JIT needs writable+executable pages.
        ['UMask', '0027'],
        ['LimitNOFILE', '65536'],
        ['TimeoutStopSec', '30'],
      ],
    ],
    ['Install', [['WantedBy', 'multi-user.target']]],
  ];
  return `${sections.map(([name, kv]) => `[${name}]\n${kv.map(([k, v]) => `${k}=${v}`).join('\n')}\n`).join('\n')}`;
}
