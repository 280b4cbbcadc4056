import type { Authenticator } from '../auth';
import type { Logger } from '../common/log';
import { serveSessions, type ConnectionLimit, type RefusalReason, type SessionServer, type ListenerKind, type PlaintextAuthPolicy, type TlsMaterial } from '../net';
import type { Pop3Backend } from './maildrop';
import { Pop3Session } from './session';

export interface Pop3ServerOptions {
  host: string;
  port: number;
  /** `plain` offers STLS when `tls` is given; `tls` is POP3S (RFC 8314 §3.3, port 995). */
  kind: ListenerKind;
  tls?: TlsMaterial;
  auth: Authenticator;
  backend: Pop3Backend;
  plaintextAuth: PlaintextAuthPolicy;
  log: Logger;
  /** Named in the greeting (config `hostname`). */
  hostname: string;
  /** The member's connection limits (config `limits`), shared with its other listeners; serveSessions applies them. */
  connections: ConnectionLimit;
  /** Networks of the proxies whose connections start with a PROXY v2 header (config `proxyProtocolFrom`). */
  proxyFrom?: readonly string[];
  idleTimeoutMs?: number;
}

export type Pop3Server = SessionServer;

/**
 * A connection over the limit gets a negative greeting and is closed.
 * RFC 3206 §4: SYS/TEMP is a temporary system problem the client may retry
 * (RFC 2449 §8 RESP-CODES, which we advertise).
 */
const REFUSALS: Record<RefusalReason, Buffer> = {
  total: Buffer.from('-ERR [SYS/TEMP] Too many connections, try again later\r\n'),
  address: Buffer.from('-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n'),
};

export async function startPop3Server(opts: Pop3ServerOptions): Promise<Pop3Server> {
  return serveSessions(
    { kind: opts.kind, host: opts.host, port: opts.port, tls: opts.tls, limit: opts.connections, proxyFrom: opts.proxyFrom ?? [], refusal: (reason) => REFUSALS[reason] },
    (conn) =>
      new Pop3Session({
        ...conn,
        auth: opts.auth,
        backend: opts.backend,
        tls: opts.tls,
        plaintextAuth: opts.plaintextAuth,
        log: opts.log,
        hostname: opts.hostname,
        idleTimeoutMs: opts.idleTimeoutMs,
      }),
  );
}
