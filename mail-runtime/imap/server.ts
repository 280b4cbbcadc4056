import { serveSessions, type ConnectionLimit, type RefusalReason, type SessionServer, type ListenerKind } from '../net';
import type { ImapServices } from './commands/types';
import { compileResponseBuffer, untagged } from './protocol';
import { ImapSession } from './session';

export interface ImapServerOptions {
  host: string;
  port: number;
  /** `plain` (143-style, STARTTLS when services.tls is set) or `tls` (993-style implicit TLS, RFC 8314 §3.3). */
  kind: ListenerKind;
  services: ImapServices;
  /** The member's connection limits (config `limits`), shared with its other listeners; serveSessions applies them. */
  connections: ConnectionLimit;
  /** Networks of the proxies whose connections start with a PROXY v2 header (config `proxyProtocolFrom`). */
  proxyFrom?: readonly string[];
  /** Override of LIMITS.imapIdleTimeoutMs (tests). */
  idleTimeoutMs?: number;
}

export type ImapServer = SessionServer;

/**
 * RFC 3501 §7.1.5: BYE as the greeting when the server will not accept the
 * connection; RFC 5530 UNAVAILABLE says it is temporary.
 */
const REFUSALS: Record<RefusalReason, Buffer> = {
  total: compileResponseBuffer(untagged('BYE', 'Too many connections, try again later', { name: 'UNAVAILABLE' })),
  address: compileResponseBuffer(untagged('BYE', 'Too many connections from your address, try again later', { name: 'UNAVAILABLE' })),
};

export async function startImapServer(opts: ImapServerOptions): Promise<ImapServer> {
  return serveSessions(
    { kind: opts.kind, host: opts.host, port: opts.port, tls: opts.services.tls, limit: opts.connections, proxyFrom: opts.proxyFrom ?? [], refusal: (reason) => REFUSALS[reason] },
    (conn) =>
      new ImapSession({
        ...conn,
        services: opts.services,
        idleTimeoutMs: opts.idleTimeoutMs,
      }),
  );
}
