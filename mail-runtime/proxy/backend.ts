import { connect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';

/**
 * A backend reply line longer than this is not a greeting or a login
 * answer: the node is not speaking the protocol we expect. (RFC 7162 §4
 * suggests 8192 octets for IMAP lines; a CAPABILITY response code fits.)
 */
const MAX_BACKEND_LINE_BYTES = 16 * 1024;

export class BackendError extends Error {}

/**
 * How the proxy verifies a node over TLS: the cluster CA (config
 * `clusterTls.caFile`) and the node's member id, which its cluster
 * certificate names (hub/ca, components/secrets.ts) and which the proxy
 * also sends as SNI so the node picks that certificate (net/tls.ts
 * withClusterIdentity).
 */
export interface BackendTls {
  ca: string;
  /** The owner node's member id: the name its certificate must carry. */
  name: string;
}

/**
 * The proxy's connection to the owner node while it replays a login: read
 * whole lines (bounded, each within the deadline), write lines, and at the
 * end hand over the socket with whatever the node sent after the last line
 * read, for splicing.
 */
export class BackendConnection {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly onAbort: () => void;

  private constructor(
    readonly socket: Socket | TLSSocket,
    private readonly watch?: BackendWatch,
  ) {
    this.onAbort = () => {
      this.fail(new BackendError(abortReason(watch!.signal)));
      socket.destroy();
    };
    watch?.signal.addEventListener('abort', this.onAbort, { once: true });
    if (watch?.signal.aborted) this.onAbort();
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      if (this.buf.length > MAX_BACKEND_LINE_BYTES && this.buf.indexOf(0x0a) < 0) this.fail(new BackendError('backend line too long'));
      this.wake();
    });
    socket.on('error', (err) => this.fail(new BackendError(`backend connection: ${err.message}`)));
    socket.on('close', () => this.fail(new BackendError('backend closed the connection')));
  }

  /**
   * Connects; `preamble` (the PROXY v2 header, front.ts backendPreamble) is
   * the first thing written. With `tls`, the TLS handshake follows the
   * header on the same connection (the order of HAProxy's `send-proxy-v2`
   * with `ssl`, proxy-protocol.txt §2.2: the header describes the TCP
   * connection, TLS runs inside it) and the node's certificate must chain
   * to the cluster CA and name `tls.name`; anything else fails the
   * connection with a BackendError saying so. `timeoutMs` bounds connect
   * and handshake together.
   */
  static open(host: string, port: number, timeoutMs: number, preamble?: Buffer, tls?: BackendTls, watch?: BackendWatch): Promise<BackendConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      let secure: TLSSocket | undefined;
      const onAbort = (): void => fail(abortReason(watch!.signal));
      const fail = (why: string): void => {
        clearTimeout(timer);
        watch?.signal.removeEventListener('abort', onAbort);
        secure?.on('error', () => undefined);
        secure?.destroy();
        socket.destroy();
        watch?.ended();
        reject(new BackendError(why));
      };
      const timer = setTimeout(() => fail(`no ${secure ? 'TLS session' : 'connection'} to ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
      watch?.signal.addEventListener('abort', onAbort, { once: true });
      const connected = (s: Socket | TLSSocket): void => {
        clearTimeout(timer);
        watch?.signal.removeEventListener('abort', onAbort);
        resolve(new BackendConnection(s, watch));
      };
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        if (preamble) socket.write(preamble);
        if (!tls) {
          connected(socket);
          return;
        }
        // Errors of the TCP socket surface on the TLS socket above it (which the session listens to); none may reach the process.
        socket.on('error', () => undefined);
        const s = tlsConnect({
          socket,
          ca: tls.ca,
          servername: tls.name,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          // The name checked is the member id, whatever address the node was reached at (RFC 6125 §6: the reference identity is the one we meant to reach).
          checkServerIdentity: (_host, cert) => checkServerIdentity(tls.name, cert),
        });
        secure = s;
        const onError = (err: Error): void =>
          fail(`node ${tls.name} at ${host}:${port}: TLS failed (its certificate must come from the cluster CA, clusterTls.caFile, and name ${tls.name}): ${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`);
        const onClose = (): void => fail(`node ${tls.name} at ${host}:${port} closed the connection during the TLS handshake`);
        s.once('error', onError);
        s.once('close', onClose);
        s.once('secureConnect', () => {
          s.removeListener('error', onError);
          s.removeListener('close', onClose);
          connected(s);
        });
      });
      socket.once('error', (err) => fail(`cannot connect to ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next line without its CRLF, within `timeoutMs`. */
  async readLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        let line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        return line.toString('utf8');
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new BackendError(`no answer from the node within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Stops reading lines: returns the socket and the bytes it sent after the last line read. */
  release(): { socket: Socket | TLSSocket; rest: Buffer } {
    this.unwatch();
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    this.socket.on('error', () => undefined);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return { socket: this.socket, rest };
  }

  destroy(): void {
    this.unwatch();
    this.socket.destroy();
  }

  private unwatch(): void {
    if (!this.watch) return;
    this.watch.signal.removeEventListener('abort', this.onAbort);
    this.watch.ended();
  }
}

/**
 * Who may call off a login being replayed: the proxy, when the placement
 * takes the mailbox from the node it is replayed on (front.ts openBackend).
 * A frozen node's kernel still accepts connections, so without this the
 * replay would wait the whole backend timeout for a greeting that the
 * failover has made pointless. `ended` is called once, when the connection
 * is handed over, destroyed or fails to open.
 */
export interface BackendWatch {
  signal: AbortSignal;
  ended(): void;
}

function abortReason(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : 'the login was called off';
}
