import { connectionId, listen, normalizeIp, type Listener, type ListenerKind } from '../net';
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

export interface ImapServer {
  readonly port: number;
  readonly listener: Listener;
  sessions(): number;
  /** BYE to every session, stop listening, wait for sockets to close. */
  close(): Promise<void>;
}

export async function startImapServer(opts: ImapServerOptions): Promise<ImapServer> {
  const sessions = new Set<ImapSession>();
  const listener = await listen(
    { kind: opts.kind, host: opts.host, port: opts.port, tls: opts.services.tls, maxConnections: opts.maxConnections },
    (socket, secure) => {
      const session: ImapSession = new ImapSession({
        id: connectionId(),
        socket,
        secure,
        remoteIp: normalizeIp(socket.remoteAddress),
        services: opts.services,
        idleTimeoutMs: opts.idleTimeoutMs,
        preAuthTimeoutMs: opts.preAuthTimeoutMs,
        onClose: () => sessions.delete(session),
      });
      sessions.add(session);
      session.start();
    },
  );
  return {
    port: listener.port,
    listener,
    sessions: () => sessions.size,
    close: async () => {
      for (const s of sessions) s.shutdown();
      await listener.close();
    },
  };
}
