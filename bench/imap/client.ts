import { connect, type Socket } from 'node:net';

/**
 * A lean raw IMAP client for benchmarks. It keeps response *lines* (text),
 * counts literal octets without keeping them (RFC 3501 §4.3 `{N}` framing),
 * and supports pipelining: send several tagged commands, then wait for each
 * tagged reply. Every wait has a timeout, so a stuck server ends the bench
 * with an error instead of hanging it.
 */
export class BenchClient {
  /** Octets received (lines and literals). */
  bytesIn = 0;
  /** Literal octets received. */
  literalBytes = 0;
  /**
   * Keep literals: a response line with `{N}` literals is returned as one
   * string with the literal text in place (latin1), instead of the literal
   * being counted and dropped. Off for FETCH throughput (nothing is kept).
   */
  keepLiterals = false;
  private held: string | null = null;
  private literalParts: Buffer[] = [];
  private pending: Buffer | null = null;
  private literalLeft = 0;
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  private tagNo = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects and reads the greeting. */
  static async connect(port: number, timeoutMs = 30_000): Promise<BenchClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connect timeout')), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const c = new BenchClient(socket);
    const greeting = await c.readLine(timeoutMs);
    if (!greeting.startsWith('* OK')) throw new Error(`unexpected greeting: ${greeting}`);
    return c;
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    let buf = chunk;
    for (;;) {
      if (this.literalLeft > 0) {
        const n = Math.min(this.literalLeft, buf.length);
        this.literalLeft -= n;
        this.literalBytes += n;
        if (this.keepLiterals) this.literalParts.push(Buffer.from(buf.subarray(0, n)));
        buf = buf.subarray(n);
        if (buf.length === 0) break;
        continue;
      }
      if (this.pending) {
        buf = Buffer.concat([this.pending, buf]);
        this.pending = null;
      }
      const lf = buf.indexOf(0x0a);
      if (lf < 0) {
        if (buf.length) this.pending = Buffer.from(buf);
        break;
      }
      const line = buf.toString('latin1', 0, lf > 0 && buf[lf - 1] === 0x0d ? lf - 1 : lf);
      buf = buf.subarray(lf + 1);
      const m = /\{(\d+)\+?\}$/.exec(line);
      if (m) this.literalLeft = Number(m[1]);
      if (this.keepLiterals && (m || this.held !== null)) {
        // Join `prefix {N}` + literal + the rest of the response (which may hold more literals).
        this.held = `${this.held ?? ''}${Buffer.concat(this.literalParts).toString('latin1')}${line}`;
        this.literalParts = [];
        if (!m) {
          this.lines.push(this.held);
          this.held = null;
        }
      } else {
        this.lines.push(line);
      }
      if (buf.length === 0) break;
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  nextTag(): string {
    return `b${++this.tagNo}`;
  }

  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  /** Resolves when the socket's write buffer has drained (bounded). */
  async drained(timeoutMs = 30_000): Promise<void> {
    if (!this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('drain timeout')), timeoutMs);
      this.socket.once('drain', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async readLine(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout waiting for a response line');
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

  /**
   * Lines up to the tagged reply for `tag`. `keep` decides which untagged
   * lines are returned (default: all); others are only counted.
   */
  async waitTagged(tag: string, timeoutMs = 120_000, keep: (line: string) => boolean = () => true): Promise<{ tagged: string; lines: string[]; count: number }> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    let count = 0;
    for (;;) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      if (line.startsWith(`${tag} `)) return { tagged: line.slice(tag.length + 1), lines, count };
      count++;
      if (keep(line)) lines.push(line);
    }
  }

  /** Sends one command and waits for its tagged reply, whatever it says. */
  async command(command: string, timeoutMs = 120_000, keep?: (line: string) => boolean): Promise<{ lines: string[]; count: number; tagged: string }> {
    const tag = this.nextTag();
    this.write(`${tag} ${command}\r\n`);
    return this.waitTagged(tag, timeoutMs, keep);
  }

  /** Sends one command and waits for its tagged reply; throws unless it is OK. */
  async ok(command: string, timeoutMs = 120_000, keep?: (line: string) => boolean): Promise<{ lines: string[]; count: number; tagged: string }> {
    const r = await this.command(command, timeoutMs, keep);
    if (!r.tagged.startsWith('OK')) throw new Error(`${command.slice(0, 60)} → ${r.tagged}`);
    return r;
  }

  async login(user: string, password: string): Promise<void> {
    await this.ok(`LOGIN "${user}" "${password}"`);
  }

  /** LOGOUT and wait for the server to close (bounded). */
  async logout(timeoutMs = 10_000): Promise<void> {
    const tag = this.nextTag();
    this.write(`${tag} LOGOUT\r\n`);
    await this.waitTagged(tag, timeoutMs);
    this.socket.destroy();
  }

  close(): void {
    this.socket.destroy();
  }
}
