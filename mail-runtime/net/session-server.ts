import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { connectionId } from './conn-id';
import { normalizeIp } from './address';
import { listen, type Listener, type ListenOptions } from './listener';

/** What a protocol session must offer the server that runs it. */
export interface ServedSession {
  start(): void;
  /** Say goodbye (BYE / -ERR) and close; used when the server stops. */
  shutdown(): void;
}

/** What every session is given by the server that accepted its connection. */
export interface AcceptedConnection {
  id: string;
  socket: Socket | TLSSocket;
  secure: boolean;
  remoteIp: string;
  /** The session calls this once when it has ended. */
  onClose: () => void;
}

export interface SessionServer {
  readonly port: number;
  readonly listener: Listener;
  /** Open sessions. */
  sessions(): number;
  /** Goodbye to every session, stop listening, wait for sockets to close. */
  close(): Promise<void>;
}

/**
 * A listener whose connections each become one protocol session (IMAP,
 * POP3), tracked so that closing the server ends them all.
 */
export async function serveSessions(opts: ListenOptions, createSession: (conn: AcceptedConnection) => ServedSession): Promise<SessionServer> {
  const sessions = new Set<ServedSession>();
  const listener = await listen(opts, (socket, secure) => {
    const session: ServedSession = createSession({
      id: connectionId(),
      socket,
      secure,
      remoteIp: normalizeIp(socket.remoteAddress),
      onClose: () => sessions.delete(session),
    });
    sessions.add(session);
    session.start();
  });
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
