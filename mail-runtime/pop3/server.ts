import type { Authenticator } from '../auth';
import type { Logger } from '../common/log';
import { serveSessions, type SessionServer, type ListenerKind, type PlaintextAuthPolicy, type TlsMaterial } from '../net';
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
  hostname?: string;
  idleTimeoutMs?: number;
  maxConnections?: number;
}

export type Pop3Server = SessionServer;

export async function startPop3Server(opts: Pop3ServerOptions): Promise<Pop3Server> {
  return serveSessions(
    { kind: opts.kind, host: opts.host, port: opts.port, tls: opts.tls, maxConnections: opts.maxConnections },
    (conn) =>
      new Pop3Session({
        ...conn,
        auth: opts.auth,
        backend: opts.backend,
        tls: opts.tls,
        plaintextAuth: opts.plaintextAuth,
        log: opts.log,
        hostname: opts.hostname ?? 'mailfleet',
        idleTimeoutMs: opts.idleTimeoutMs,
      }),
  );
}
