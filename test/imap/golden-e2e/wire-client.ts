import { connect, type Socket } from 'node:net';

/**
 * A byte-exact IMAP client for the end-to-end golden test: it keeps every
 * response as the bytes that came off the wire, literals included
 * (RFC 3501 §4.3: a line ending in `{N}` is followed by N octets, then the
 * response goes on). LineClient works in lines and latin1 text, which would
 * lose the framing this test is about. Every wait is bounded by a timeout.
 */
export class WireClient {
  private buf: Buffer = Buffer.alloc(0);
  private responses: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.split();
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number): Promise<WireClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new WireClient(socket);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Cuts complete responses (line, then literal + rest of line, ...) off the buffer. */
  private split(): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let pos = 0;
      let complete = false;
      for (let parts = 0; parts < 10_000; parts++) {
        const lf = this.buf.indexOf('\r\n', pos);
        if (lf < 0) break;
        const line = this.buf.toString('latin1', pos, lf);
        const m = /\{(\d+)\}$/.exec(line);
        if (!m) {
          pos = lf + 2;
          complete = true;
          break;
        }
        const end = lf + 2 + Number(m[1]);
        if (end > this.buf.length) break;
        pos = end;
      }
      if (!complete) return;
      this.responses.push(Buffer.from(this.buf.subarray(0, pos)));
      this.buf = this.buf.subarray(pos);
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next complete response (bytes, including its final CRLF). */
  async next(timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.responses.length === 0) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; pending ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.responses.shift() as Buffer;
  }

  /** Responses up to and including the one tagged `tag` (bounded). */
  async collect(tag: string, maxResponses = 10_000): Promise<{ untagged: Buffer[]; tagged: string }> {
    const untagged: Buffer[] = [];
    for (let i = 0; i < maxResponses; i++) {
      const r = await this.next();
      const text = r.toString('latin1');
      if (text.startsWith(`${tag} `)) return { untagged, tagged: text.slice(0, -2) };
      untagged.push(r);
    }
    throw new Error(`no tagged reply for ${tag}`);
  }

  async command(tag: string, command: string | Buffer): Promise<{ untagged: Buffer[]; tagged: string }> {
    this.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.from(command), Buffer.from('\r\n')]));
    return this.collect(tag);
  }

  /**
   * A command whose last argument is a synchronising literal: sends
   * `tag head {N}`, waits for the `+` continuation (RFC 3501 §7.5), then the
   * N octets and the rest of the command.
   */
  async literalCommand(tag: string, head: string, literal: Buffer, tail = ''): Promise<{ untagged: Buffer[]; tagged: string }> {
    this.write(`${tag} ${head} {${literal.length}}\r\n`);
    const cont = await this.next();
    const text = cont.toString('latin1');
    if (!text.startsWith('+')) return { untagged: [], tagged: text.slice(0, -2) };
    this.write(Buffer.concat([literal, Buffer.from(`${tail}\r\n`)]));
    return this.collect(tag);
  }

  close(): void {
    this.socket.destroy();
  }
}
