import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { connectionId } from './conn-id';
import type { ConnectionLimit, RefusalReason } from './connection-limit';
import { listen, type Listener, type ListenOptions, type Peer } from './listener';

/**
 * Why the server ends a session: it is stopping, or the connection did not
 * log in within the login deadline. The protocol says it its way (IMAP
 * `* BYE`, POP3 `-ERR`).
 */
export type ShutdownReason = 'server-stop' | 'login-timeout';

/** What a protocol session must offer the server that runs it. */
export interface ServedSession {
  start(): void;
  /** Say goodbye for `reason` and close. */
  shutdown(reason: ShutdownReason): void;
}

/** What every session is given by the server that accepted its connection. */
export interface AcceptedConnection {
  id: string;
  socket: Socket | TLSSocket;
  secure: boolean;
  /** The client's address (through a trusted balancer: the one its PROXY header names). */
  remoteIp: string;
  remotePort: number;
  /** The trusted load balancer the connection came through (ServeOptions.proxyFrom), if any. */
  via?: string;
  /** The session calls this once when it has ended. */
  onClose: () => void;
  /** The session calls this when the client has logged in: the login deadline no longer applies. */
  onLogin: () => void;
}

export interface SessionServer {
  readonly port: number;
  readonly listener: Listener;
  /** Open sessions. */
  sessions(): number;
  /** Goodbye to every session, stop listening, wait for sockets to close. */
  close(): Promise<void>;
}

export interface ServeOptions extends Omit<ListenOptions, 'admit' | 'handshakeTimeoutMs'> {
  /** The member's connection limits, shared by all its client listeners. */
  limit: ConnectionLimit;
  /**
   * The protocol's greeting for a connection refused at accept (IMAP
   * `* BYE [UNAVAILABLE]`, POP3 `-ERR [SYS/TEMP]`), with its line end. On an
   * implicit-TLS listener a refused connection is closed without it: saying
   * it would cost a handshake per refused connection.
   */
  refusal: (reason: RefusalReason) => Buffer;
}

/**
 * A connection the server ended (refused, or told to go at the login
 * deadline) gets its last words and our FIN; a client that then neither
 * reads nor closes loses the socket after this long, so such connections
 * cannot pile up either.
 */
const LINGER_MS = 2000;

/**
 * A listener whose connections each become one protocol session (IMAP,
 * POP3; later submission, the SMTP gateway, the proxy), with the member's
 * connection limits applied in one place:
 * - at accept (for implicit TLS, before the handshake) the connection takes
 *   a slot, in total and for its address; over a limit it gets the
 *   protocol's refusal and is closed, no session is created;
 * - an implicit-TLS handshake must finish within `policy.tlsHandshakeMs`;
 * - the session must report a login (`onLogin`) within
 *   `policy.loginTimeoutMs` of accept, or it is told to go (`shutdown`) and
 *   the socket is destroyed shortly after. Nothing else the client does
 *   moves this deadline.
 * Closing the server ends every session.
 */
export async function serveSessions(opts: ServeOptions, createSession: (conn: AcceptedConnection) => ServedSession): Promise<SessionServer> {
  const sessions = new Set<ServedSession>();
  const { limit } = opts;
  const deadlines = new WeakMap<Socket, LoginDeadline>();
  const admit = (raw: Socket, peer: Peer): boolean => {
    const admission = limit.admit(peer.ip);
    if ('refused' in admission) {
      if (opts.kind === 'tls') raw.destroy();
      else refuse(raw, opts.refusal(admission.refused));
      return false;
    }
    raw.once('close', () => admission.release());
    const timeoutMs = limit.policy.loginTimeoutMs;
    if (timeoutMs !== undefined) deadlines.set(raw, new LoginDeadline(raw, timeoutMs));
    return true;
  };
  const listener = await listen({ ...opts, admit, handshakeTimeoutMs: limit.policy.tlsHandshakeMs }, (socket, secure, raw, peer) => {
    const deadline = deadlines.get(raw);
    let ended = false;
    const session: ServedSession = createSession({
      id: connectionId(),
      socket,
      secure,
      remoteIp: peer.ip,
      remotePort: peer.port,
      ...(peer.via ? { via: peer.via } : {}),
      onClose: () => {
        if (ended) return;
        ended = true;
        deadline?.cancel();
        sessions.delete(session);
      },
      onLogin: () => deadline?.cancel(),
    });
    deadline?.onExpire(() => session.shutdown('login-timeout'));
    sessions.add(session);
    session.start();
  });
  return {
    port: listener.port,
    listener,
    sessions: () => sessions.size,
    close: async () => {
      for (const s of sessions) s.shutdown('server-stop');
      await listener.close();
    },
  };
}

/**
 * The login deadline of one connection, from accept. Until a session exists
 * (an implicit-TLS handshake in progress) it just drops the socket; then it
 * asks the session to say goodbye. Either way the socket is destroyed
 * LINGER_MS later if the client keeps it open.
 */
class LoginDeadline {
  private expire: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(raw: Socket, ms: number) {
    this.expire = () => void raw.destroy();
    this.timer = setTimeout(() => {
      this.expire();
      linger(raw);
    }, ms);
    this.timer.unref();
    raw.once('close', () => this.cancel());
  }

  onExpire(f: () => void): void {
    this.expire = f;
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}

function refuse(socket: Socket, refusal: Buffer): void {
  socket.end(refusal);
  // Drain (and drop) what the client sends meanwhile: unread bytes would turn
  // our close into a reset that can destroy the refusal before it is read.
  socket.resume();
  linger(socket);
}

/** Destroys `socket` LINGER_MS from now unless it has closed by then. */
function linger(socket: Socket): void {
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
