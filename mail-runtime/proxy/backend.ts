import { connect, type Socket } from 'node:net';

/**
 * A backend reply line longer than this is not a greeting or a login
 * answer: the node is not speaking the protocol we expect. (RFC 7162 §4
 * suggests 8192 octets for IMAP lines; a CAPABILITY response code fits.)
 */
const MAX_BACKEND_LINE_BYTES = 16 * 1024;

export class BackendError extends Error {}

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

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      if (this.buf.length > MAX_BACKEND_LINE_BYTES && this.buf.indexOf(0x0a) < 0) this.fail(new BackendError('backend line too long'));
      this.wake();
    });
    socket.on('error', (err) => this.fail(new BackendError(`backend connection: ${err.message}`)));
    socket.on('close', () => this.fail(new BackendError('backend closed the connection')));
  }

  /** Connects; `preamble` (the PROXY v2 header, front.ts backendPreamble) is the first thing written. */
  static open(host: string, port: number, timeoutMs: number, preamble?: Buffer): Promise<BackendConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BackendError(`no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        if (preamble) socket.write(preamble);
        resolve(new BackendConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new BackendError(`cannot connect to ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
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
  release(): { socket: Socket; rest: Buffer } {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    this.socket.on('error', () => undefined);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return { socket: this.socket, rest };
  }

  destroy(): void {
    this.socket.destroy();
  }
}
