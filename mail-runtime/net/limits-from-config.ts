import type { Logger } from '../common/log';
import { ConnectionLimit, type RefusalReason } from './connection-limit';

/** At most one "connection limit reached" line per reason this often: a connection flood must not become a log flood. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * The member's config `limits` this needs (mail-runtime/config/schema.ts
 * RuntimeLimits decides every default); structural so net/ does not import
 * the config module.
 */
export interface ClientConnectionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  perAddressExempt: readonly string[];
  loginTimeoutSeconds: number;
  tlsHandshakeSeconds: number;
}

export interface ConnectionLimitSetup {
  log: Logger;
  /** Counts each refusal (the role's `..._connections_refused_total{reason}`). */
  count?: (reason: RefusalReason) => void;
  /**
   * Whether sessions must log in within `limits.loginTimeoutSeconds` (IMAP,
   * POP3, submission). The inbound MX has no login: its sessions are bounded
   * by SMTP's own timeouts instead (RFC 5321 §4.5.3.2), so it passes false.
   */
  loginDeadline?: boolean;
}

/**
 * The one connection-admission setup of every member role (node, proxy,
 * gateway): the ConnectionLimit from config `limits` — total, per address
 * (IPv6 by /64) with the exempt networks, login deadline, implicit-TLS
 * handshake bound — whose refusals are counted and logged at most once a
 * minute per reason.
 */
export function connectionLimitFromConfig(limits: ClientConnectionLimits, setup: ConnectionLimitSetup): ConnectionLimit {
  const { log } = setup;
  const lastLog: Record<RefusalReason, number> = { total: 0, address: 0 };
  return new ConnectionLimit(
    limits.maxConnections,
    {
      maxPerAddress: limits.maxConnectionsPerAddress,
      perAddressExempt: limits.perAddressExempt,
      ...(setup.loginDeadline === false ? {} : { loginTimeoutMs: limits.loginTimeoutSeconds * 1000 }),
      tlsHandshakeMs: limits.tlsHandshakeSeconds * 1000,
    },
    (reason, ip) => {
      setup.count?.(reason);
      const now = Date.now();
      if (now - lastLog[reason] < REFUSAL_LOG_INTERVAL_MS) return;
      lastLog[reason] = now;
      if (reason === 'total') log.warn({ maxConnections: limits.maxConnections }, 'connection limit reached: refusing new connections');
      else log.warn({ ip, maxConnectionsPerAddress: limits.maxConnectionsPerAddress }, 'per-address connection limit reached: refusing connections from this address');
    },
  );
}
