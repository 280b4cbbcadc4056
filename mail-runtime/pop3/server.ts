import type { Authenticator } from '../auth';
import type { Logger } from '../common/log';
import { connectionId, listen, normalizeIp, type Listener, type ListenerKind, type PlaintextAuthPolicy, type TlsMaterial } from '../net';
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

export interface Pop3Server {
  readonly port: number;
  readonly listener: Listener;
  /** Open sessions. */
  sessions(): number;
  close(): Promise<void>;
}

export async function startPop3Server(opts: Pop3ServerOptions): Promise<Pop3Server> {
  const sessions = new Set<Pop3Session>();
  const listener = await listen(
    { kind: opts.kind, host: opts.host, port: opts.port, tls: opts.tls, maxConnections: opts.maxConnections },
    (socket, secure) => {
      const session: Pop3Session = new Pop3Session({
        id: connectionId(),
        socket,
        secure,
        remoteIp: normalizeIp(socket.remoteAddress),
        auth: opts.auth,
        backend: opts.backend,
        tls: opts.tls,
        plaintextAuth: opts.plaintextAuth,
        log: opts.log,
        hostname: opts.hostname ?? 'mailfleet',
        idleTimeoutMs: opts.idleTimeoutMs,
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
