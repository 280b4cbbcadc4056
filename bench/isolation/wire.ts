import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * A minimal line client for the isolation bench: it can bind its side of
 * the connection to any 127.x.y.z address (Linux routes all of 127/8 to
 * `lo`), so one machine plays many client addresses. Lines are kept as
 * text; every wait is bounded.
 */
export class Wire {
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  private closedAt: number | undefined;
  private tagNo = 0;

  private constructor(readonly socket: Socket) {
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
      this.closedAt = performance.now();
      this.wake();
    });
  }

  /** Connects from `from` (a loopback address) and resolves once the TCP (and TLS) connection is up. */
  static async open(port: number, opts: { from?: string; tls?: boolean; timeoutMs?: number } = {}): Promise<Wire> {
    const base = { host: '127.0.0.1', port, ...(opts.from ? { localAddress: opts.from } : {}) };
    const socket = opts.tls ? tlsConnect({ ...base, rejectUnauthorized: false }) : netConnect(base);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timeout'));
      }, opts.timeoutMs ?? 10_000);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    return new Wire(socket);
  }

  /** A raw TCP connection that never speaks (for handshake and greeting stalls). */
  static async silent(port: number, from: string): Promise<Socket> {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress: from });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** performance.now() when the server closed the connection. */
  get closedTime(): number | undefined {
    return this.closedAt;
  }

  send(line: string): void {
    if (!this.socket.destroyed) this.socket.write(`${line}\r\n`);
  }

  async readLine(timeoutMs = 30_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (!this.lines.length) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('timeout waiting for a line');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.lines.shift() as string;
  }

  /** IMAP: sends a tagged command and returns its tagged reply line (untagged lines are dropped). */
  async imap(command: string, timeoutMs = 30_000): Promise<string> {
    const tag = `t${++this.tagNo}`;
    this.send(`${tag} ${command}`);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = await this.readLine(Math.max(1, deadline - performance.now()));
      if (line.startsWith(`${tag} `)) return line.slice(tag.length + 1);
    }
  }

  /** Resolves when the server has closed the connection, or false after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The i-th address of a /16 inside 127/8, e.g. `addr(10, 5)` = 127.10.0.5 (i from 1). */
export function addr(block: number, i: number): string {
  return `127.${block}.${(i >> 8) & 255}.${i & 255}`;
}
