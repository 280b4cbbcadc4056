import { BlockList, isIP } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { ClusterSettings, SettingsSection, SettingsSnapshot } from '../hub/protocol';

/**
 * Applies cluster settings live: each part of a member registers for the
 * sections it owns (a node: `limits`, `blocklist`; a gateway: `filters`,
 * `dkim`, `blocklist`; TLS listeners: `tls`), and is called with the new
 * value (undefined: the section was removed, go back to the RuntimeConfig
 * value) whenever a new version changes that section. Any member gets the
 * same mechanism; sections nobody registered for are ignored.
 */
export class SettingsAppliers {
  private readonly appliers = new Map<SettingsSection, ((value: unknown) => void | Promise<void>)[]>();
  private last: ClusterSettings | undefined;

  on<S extends SettingsSection>(section: S, apply: (value: ClusterSettings[S] | undefined) => void | Promise<void>): void {
    const list = this.appliers.get(section) ?? [];
    list.push(apply as (value: unknown) => void | Promise<void>);
    this.appliers.set(section, list);
  }

  /** Applies every changed section of `snapshot`; throws if an applier throws (the member then reports the old version). */
  async apply(snapshot: SettingsSnapshot): Promise<void> {
    const prev = this.last;
    for (const [section, list] of this.appliers) {
      const value = snapshot.settings[section];
      if (prev !== undefined && isDeepStrictEqual(prev[section], value)) continue;
      for (const f of list) await f(value);
    }
    this.last = snapshot.settings;
  }
}

/** Settings `blocklist.ips` as a matcher (node:net BlockList: IPv4 and IPv6 addresses and subnets). */
export function ipMatcher(entries: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return (ip) => {
    const v = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const family = isIP(v);
    return family !== 0 && list.check(v, family === 6 ? 'ipv6' : 'ipv4');
  };
}
