import { serveSessions, type SessionServer, type ListenerKind } from '../net';
import type { ImapServices } from './commands/types';
import { ImapSession } from './session';

export interface ImapServerOptions {
  host: string;
  port: number;
  /** `plain` (143-style, STARTTLS when services.tls is set) or `tls` (993-style implicit TLS, RFC 8314 §3.3). */
  kind: ListenerKind;
  services: ImapServices;
  maxConnections?: number;
  /** Overrides of LIMITS.imapIdleTimeoutMs / imapPreAuthTimeoutMs (config `limits`). */
  idleTimeoutMs?: number;
  preAuthTimeoutMs?: number;
}

export type ImapServer = SessionServer;

export async function startImapServer(opts: ImapServerOptions): Promise<ImapServer> {
  return serveSessions(
    { kind: opts.kind, host: opts.host, port: opts.port, tls: opts.services.tls, maxConnections: opts.maxConnections },
    (conn) =>
      new ImapSession({
        ...conn,
        services: opts.services,
        idleTimeoutMs: opts.idleTimeoutMs,
        preAuthTimeoutMs: opts.preAuthTimeoutMs,
      }),
  );
}
