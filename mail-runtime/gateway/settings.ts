import { ipMatcher, SettingsAppliers } from '../cluster';
import type { ClusterSettings, SettingsSnapshot } from '../hub/protocol';
import type { Filter, FilterResult } from '../smtp/filters';

/**
 * The cluster settings a gateway applies live (hub/protocol/settings.ts),
 * without a restart: `blocklist.ips` refuses client connections at the
 * MX's connect phase, `blocklist.senders` refuses an envelope sender (an
 * address, or every address of a domain) at MAIL FROM, and
 * `limits.maxConnections` is the MX's connection cap, `limits.maxMessageBytes`
 * its message size limit (SIZE, RFC 1870) for sessions that start after the
 * change, `filters` points the
 * clamd and spam filters at other scanners, `dkim` adds signing keys per
 * domain, `tls` replaces the certificate STARTTLS presents. A section removed from the settings goes back to the
 * RuntimeConfig value (no blocklist, the configured scanners and keys).
 */
export interface GatewaySettingsTargets {
  /** The member's connection cap (net/ ConnectionLimit `max`); `undefined`: back to RuntimeConfig. */
  setMaxConnections(max: number | undefined): void;
  /** The message size limit for new SMTP sessions (RFC 1870 SIZE); `undefined`: back to RuntimeConfig. */
  setMaxMessageBytes(max: number | undefined): void;
  /** The clamd and spam scanner addresses over RuntimeConfig's (`undefined`: RuntimeConfig's); absent: the section is not applied. */
  setFilters?(filters: ClusterSettings['filters']): void;
  /** DKIM signing keys per domain, before the configured ones (`undefined`: none from the cluster). Throws on a key it cannot use. */
  setDkimKeys(keys: ClusterSettings['dkim']): void;
  /** The public certificate (MX STARTTLS); `undefined`: the configured one. Throws on a pair it cannot use. */
  setTls(pair: ClusterSettings['tls']): void;
}

const CONTINUE: FilterResult = { verdict: { kind: 'continue' } };

export class GatewaySettings {
  private blockedIp: (ip: string) => boolean = () => false;
  private senders = new Set<string>();
  private readonly appliers = new SettingsAppliers();

  constructor(targets: GatewaySettingsTargets) {
    this.appliers.on('blocklist', (b) => {
      this.blockedIp = ipMatcher(b?.ips ?? []);
      this.senders = new Set((b?.senders ?? []).map((s) => s.toLowerCase()));
    });
    this.appliers.on('limits', (l) => {
      targets.setMaxConnections(l?.maxConnections);
      targets.setMaxMessageBytes(l?.maxMessageBytes);
    });
    if (targets.setFilters) this.appliers.on('filters', (f) => targets.setFilters!(f));
    this.appliers.on('dkim', (d) => targets.setDkimKeys(d));
    this.appliers.on('tls', (t) => targets.setTls(t));
  }

  /** Applies every changed section; throws if one cannot be applied (the member then keeps reporting the previous version). */
  apply(snapshot: SettingsSnapshot): Promise<void> {
    return this.appliers.apply(snapshot);
  }

  private senderBlocked(mailFrom: string): boolean {
    // The null sender (RFC 5321 §4.5.5, bounces) is never refused here: it names nobody.
    if (mailFrom === '' || this.senders.size === 0) return false;
    const a = mailFrom.toLowerCase();
    return this.senders.has(a) || this.senders.has(a.slice(a.lastIndexOf('@') + 1));
  }

  /**
   * The MX's first filter. 554 at connect (RFC 5321 §3.1: the server may
   * refuse with 554 instead of its greeting), 550 5.7.1 at MAIL FROM
   * (RFC 3463: delivery not authorized). Memory lookups only: it cannot time out.
   */
  readonly filter: Filter = {
    name: 'connect.cluster-blocklist',
    phases: ['connect', 'mail-from'],
    timeoutMs: 1000,
    onError: 'tempfail',
    run: (ctx) => {
      if (ctx.phase === 'connect' && this.blockedIp(ctx.session.remoteIp)) {
        return Promise.resolve({ verdict: { kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'Your address is blocked by this cluster' } } });
      }
      if (ctx.phase === 'mail-from' && this.senderBlocked(ctx.envelope.mailFrom)) {
        return Promise.resolve({ verdict: { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'This sender is blocked by this cluster' } } });
      }
      return Promise.resolve(CONTINUE);
    },
  };
}
