import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/**
 * How long a wait of LineClient gives the server by default: a bound for a
 * broken server, not a measure of speed. On a loaded 2-core CI machine
 * (another test file's processes, a fresh member's first scrypt, GC) a
 * reply that normally takes milliseconds can take seconds; 15 s still
 * fails a hung server well inside the 30 s test timeout.
 */
const WAIT_MS = 15_000;

/**
 * A raw line client for exact protocol bytes: what the server sends is kept
 * as CRLF-terminated lines (literals included, as they arrive). Every wait
 * has a timeout so a broken server fails the test instead of hanging it.
 */
export class LineClient {
  private buf = '';
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  socket: Socket | TLSSocket;

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** `localAddress`: our side's address, e.g. any 127.x.y.z to play another client address (Linux routes all of 127/8 to lo). */
  static async connect(port: number, opts: { tls?: boolean; host?: string; localAddress?: string } = {}): Promise<LineClient> {
    const host = opts.host ?? '127.0.0.1';
    const local = opts.localAddress ? { localAddress: opts.localAddress } : {};
    const socket = opts.tls
      ? tlsConnect({ host, port, rejectUnauthorized: false, ...local })
      : netConnect({ host, port, ...local });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      // `on`, not `once`: a server that closes during the TLS handshake can emit a second error
      // (ECONNRESET after the first) that would otherwise be unhandled and fail the run.
      socket.on('error', reject);
    }).catch((err: unknown) => {
      socket.destroy();
      throw err;
    });
    return new LineClient(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedFlag = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Bytes received without a line end yet (e.g. a "+ " continuation is a full line; this is for partial data). */
  get pending(): string {
    return this.buf;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  async readLine(timeoutMs = WAIT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.length) {
      if (this.closedFlag) throw new Error(`connection closed while waiting for a line (pending: ${JSON.stringify(this.buf)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a line (pending: ${JSON.stringify(this.buf)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift() as string;
  }

  /** Reads lines until one satisfies `done` (inclusive). */
  async readUntil(done: (line: string) => boolean, timeoutMs = WAIT_MS, maxLines = 100_000): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < maxLines; i++) {
      const l = await this.readLine(timeoutMs);
      out.push(l);
      if (done(l)) return out;
    }
    throw new Error(`no terminating line after ${maxLines} lines`);
  }

  /** IMAP: sends `tag command` and returns every line up to and including the tagged reply. */
  async command(tag: string, command: string, timeoutMs = WAIT_MS): Promise<string[]> {
    this.send(`${tag} ${command}`);
    return this.readUntil((l) => l.startsWith(`${tag} `), timeoutMs);
  }

  /** POP3: sends a command and returns the status line (and, for multi-line replies, the lines up to "."). */
  async pop(command: string, multiline = false): Promise<string[]> {
    this.send(command);
    const first = await this.readLine();
    if (!multiline || !first.startsWith('+OK')) return [first];
    return [first, ...(await this.readUntil((l) => l === '.'))];
  }

  /** Waits until the server closes the connection. */
  async waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedFlag) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout waiting for close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Upgrades the connection after the server said yes to STARTTLS/STLS. */
  async startTls(): Promise<void> {
    const raw = this.socket as Socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
