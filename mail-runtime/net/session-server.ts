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
 * How many client sessions a member serves at once (config
 * `limits.maxConnections`), shared by all its client listeners so that the
 * bound holds for the process, whichever port the clients use.
 */
export class ConnectionLimit {
  private open = 0;
  private limit: number;
  /**
   * @param onRefused called for each connection refused because all slots
   *   were taken (metrics, logs)
   */
  constructor(
    max: number,
    private readonly onRefused: () => void = () => undefined,
  ) {
    this.limit = ConnectionLimit.check(max);
  }

  private static check(max: number): number {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxConnections must be a positive integer, got ${max}`);
    return max;
  }

  get max(): number {
    return this.limit;
  }

  /** A new limit applied live (cluster settings); sessions already open above it are not closed, new ones wait for room. */
  set max(max: number) {
    this.limit = ConnectionLimit.check(max);
  }
  /** Open sessions counted against the limit. */
  get inUse(): number {
    return this.open;
  }
  /** Takes a slot; false when all are taken. */
  tryTake(): boolean {
    if (this.open >= this.limit) {
      this.onRefused();
      return false;
    }
    this.open++;
    return true;
  }
  give(): void {
    if (this.open > 0) this.open--;
  }
}

export interface ServeOptions extends ListenOptions {
  limit: ConnectionLimit;
  /**
   * The protocol's greeting for a connection over the limit (IMAP
   * `* BYE [UNAVAILABLE]`, POP3 `-ERR [SYS/TEMP]`), with its line end.
   */
  refusal: Buffer;
}

/**
 * A refused connection gets its greeting and our FIN; a client that then
 * neither reads nor closes loses the socket after this long, so refused
 * connections cannot pile up either.
 */
const REFUSED_LINGER_MS = 2000;

/**
 * A listener whose connections each become one protocol session (IMAP,
 * POP3), tracked so that closing the server ends them all. Beyond the
 * connection limit a connection is answered with the protocol's refusal
 * and closed, no session is created.
 */
export async function serveSessions(opts: ServeOptions, createSession: (conn: AcceptedConnection) => ServedSession): Promise<SessionServer> {
  const sessions = new Set<ServedSession>();
  const listener = await listen(opts, (socket, secure) => {
    if (!opts.limit.tryTake()) {
      refuse(socket, opts.refusal);
      return;
    }
    let ended = false;
    const session: ServedSession = createSession({
      id: connectionId(),
      socket,
      secure,
      remoteIp: normalizeIp(socket.remoteAddress),
      onClose: () => {
        if (ended) return;
        ended = true;
        sessions.delete(session);
        opts.limit.give();
      },
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

function refuse(socket: Socket | TLSSocket, refusal: Buffer): void {
  socket.end(refusal);
  // Drain (and drop) what the client sends meanwhile: unread bytes would turn
  // our close into a reset that can destroy the refusal before it is read.
  socket.resume();
  const t = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
