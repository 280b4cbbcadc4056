import { connect, type Socket } from 'node:net';

/** One SMTP reply (RFC 5321 §4.2): the code and its text lines. */
export interface SmtpReply {
  code: number;
  lines: string[];
}

/**
 * A lean SMTP client for load: one connection, EHLO once, then many
 * transactions; MAIL, RCPT and DATA go in one write when the server offers
 * PIPELINING (RFC 2920 §3.1). Every wait has a timeout.
 */
export class SmtpConn {
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  pipelining = false;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i).replace(/\r$/, ''));
        this.buf = this.buf.slice(i + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  static async open(host: string, port: number, heloName: string, timeoutMs = 30_000): Promise<SmtpConn> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`connect to ${host}:${port} timed out`)), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const c = new SmtpConn(socket);
    const greet = await c.reply(timeoutMs);
    if (greet.code !== 220) throw new Error(`greeting: ${greet.code} ${greet.lines.join(' ')}`);
    c.write(`EHLO ${heloName}\r\n`);
    const ehlo = await c.reply(timeoutMs);
    if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.code} ${ehlo.lines.join(' ')}`);
    c.pipelining = ehlo.lines.some((l) => /^PIPELINING\b/i.test(l));
    return c;
  }

  write(s: string): void {
    this.socket.write(s, 'latin1');
  }

  /** Reads one (possibly multi-line, `250-...`) reply. */
  async reply(timeoutMs = 60_000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    const text: string[] = [];
    for (;;) {
      while (this.lines.length === 0) {
        if (this.closed) throw new Error('connection closed');
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('timeout waiting for an SMTP reply');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          this.waiter = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      const line = this.lines.shift() as string;
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) throw new Error(`not an SMTP reply line: ${line.slice(0, 80)}`);
      text.push(m[3]);
      if (m[2] === ' ') return { code: Number(m[1]), lines: text };
    }
  }

  /**
   * One transaction; resolves with the final reply to the end of data.
   * `data` must already be dot-stuffed and end with CRLF (RFC 5321 §4.5.2).
   */
  async send(from: string, to: string, data: string, timeoutMs = 60_000): Promise<SmtpReply> {
    const cmds = [`MAIL FROM:<${from}>\r\n`, `RCPT TO:<${to}>\r\n`, 'DATA\r\n'];
    const expect = [250, 250, 354];
    if (this.pipelining) {
      this.write(cmds.join(''));
      for (let i = 0; i < 3; i++) {
        const r = await this.reply(timeoutMs);
        if (r.code !== expect[i]) {
          if (i < 2) {
            // Drain the remaining pipelined replies; DATA then fails with 503/554 (RFC 2920 §3.1).
            for (let k = i + 1; k < 3; k++) await this.reply(timeoutMs);
            this.write('RSET\r\n');
            await this.reply(timeoutMs);
          }
          return r;
        }
      }
    } else {
      for (let i = 0; i < 3; i++) {
        this.write(cmds[i]);
        const r = await this.reply(timeoutMs);
        if (r.code !== expect[i]) {
          if (i < 2) {
            this.write('RSET\r\n');
            await this.reply(timeoutMs);
          }
          return r;
        }
      }
    }
    this.write(`${data}.\r\n`);
    return this.reply(timeoutMs);
  }

  async quit(): Promise<void> {
    try {
      this.write('QUIT\r\n');
      await this.reply(5_000);
    } catch {
      // closing anyway
    }
    this.socket.destroy();
  }

  close(): void {
    this.socket.destroy();
  }
}
