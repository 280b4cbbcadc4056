import { connect, type Socket } from 'node:net';

/**
 * A lean SMTP sender for the benchmark: one connection, EHLO once, then
 * MAIL, RCPT and DATA pipelined (RFC 2920) for every message, so the
 * client costs little CPU next to the server it measures (the machine has
 * two cores). Every wait is bounded.
 */
export class BenchSession {
  private buf = '';
  private lines: string[] = [];
  private waiting: ((line: string) => void)[] = [];
  private failed: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        // A reply ends on "ddd " (RFC 5321 §4.2.1); continuation lines are skipped.
        if (/^\d{3}(?: |$)/.test(line)) {
          const w = this.waiting.shift();
          if (w) w(line);
          else this.lines.push(line);
        }
      }
    });
    socket.on('error', (err) => {
      this.failed = err;
      for (const w of this.waiting.splice(0)) w(`421 ${err.message}`);
    });
    socket.on('close', () => {
      for (const w of this.waiting.splice(0)) w('421 connection closed');
    });
  }

  static async open(port: number, timeoutMs = 10_000): Promise<BenchSession> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const s = new BenchSession(socket);
    const greeting = await s.reply(timeoutMs);
    if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
    socket.write('EHLO bench.example.net\r\n');
    const ehlo = await s.reply(timeoutMs);
    if (!ehlo.startsWith('250')) throw new Error(`EHLO: ${ehlo}`);
    return s;
  }

  private reply(timeoutMs = 60_000): Promise<string> {
    if (this.failed) return Promise.resolve(`421 ${this.failed.message}`);
    const ready = this.lines.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve('421 timeout waiting for a reply'), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(t);
        resolve(line);
      });
    });
  }

  /** Sends one message (`data`: dot-stuffed, CRLF, without the terminator); resolves with the final reply. */
  async send(from: string, to: string, data: Buffer): Promise<string> {
    this.socket.write(`MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    const [mail, rcpt, go] = [await this.reply(), await this.reply(), await this.reply()];
    if (!mail.startsWith('250') || !rcpt.startsWith('250') || !go.startsWith('354')) {
      if (go.startsWith('354')) this.socket.write('.\r\n');
      return [mail, rcpt, go].find((l) => !/^(250|354)/.test(l)) ?? go;
    }
    this.socket.write(data);
    this.socket.write('.\r\n');
    return this.reply();
  }

  close(): void {
    this.socket.end('QUIT\r\n');
    this.socket.destroy();
  }
}
