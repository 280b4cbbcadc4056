import { BenchClient } from '../imap/client';

/**
 * Watches one mailbox over IMAP IDLE (RFC 2177) and records when each
 * message of this load run became visible: the time the `* N EXISTS`
 * announcing it arrived. Which message a sequence number is comes from its
 * Message-ID (`<smtpload-<run>-<k>@...>`), fetched after each EXISTS, so
 * deliveries that land out of order are still matched right.
 */
export class VisibilityWatcher {
  /** Message number k → ms (performance.now()) when it was announced. */
  readonly seenAt = new Map<number, number>();
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  private constructor(private readonly c: BenchClient, private readonly run: string, private seen: number) {}

  /** Connects to 127.0.0.1:`port` (the bench is loopback only), logs in, selects INBOX and starts watching. */
  static async start(port: number, user: { address: string; password: string }, run: string): Promise<VisibilityWatcher> {
    const c = await BenchClient.connect(port);
    c.keepLiterals = true;
    await c.login(user.address, user.password);
    const sel = await c.ok('SELECT INBOX');
    const exists = Number(/^\* (\d+) EXISTS$/m.exec(sel.lines.join('\n'))?.[1] ?? 0);
    const w = new VisibilityWatcher(c, run, exists);
    w.done = w.loop().catch(() => undefined);
    return w;
  }

  private async loop(): Promise<void> {
    const c = this.c;
    const pattern = new RegExp(`<smtpload-${this.run}-(\\d+)@`, 'i');
    while (!this.stopped) {
      const tag = c.nextTag();
      c.write(`${tag} IDLE\r\n`);
      const events: Array<{ n: number; t: number }> = [];
      // Wait for the continuation, then for EXISTS beyond what we have seen.
      for (;;) {
        let line: string;
        try {
          line = await c.readLine(250);
        } catch (err) {
          if ((err as Error).message.startsWith('timeout')) {
            if (this.stopped) break;
            continue;
          }
          throw err;
        }
        const m = /^\* (\d+) EXISTS$/.exec(line);
        if (m && Number(m[1]) > this.seen) {
          events.push({ n: Number(m[1]), t: performance.now() });
          break;
        }
      }
      c.write('DONE\r\n');
      const idleEnd = await c.waitTagged(tag, 30_000);
      for (const l of idleEnd.lines) {
        const m = /^\* (\d+) EXISTS$/.exec(l);
        if (m && Number(m[1]) > (events.at(-1)?.n ?? this.seen)) events.push({ n: Number(m[1]), t: performance.now() });
      }
      if (events.length === 0) break; // stopped
      // EXISTS may also arrive inside the FETCH reply (RFC 3501 §7): keep fetching until caught up.
      while (events.length && events[events.length - 1].n > this.seen) {
        const top = events[events.length - 1].n;
        const res = await c.ok(`FETCH ${this.seen + 1}:${top} (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])`, 30_000);
        for (const l of res.lines) {
          const ex = /^\* (\d+) EXISTS$/.exec(l);
          if (ex && Number(ex[1]) > events[events.length - 1].n) events.push({ n: Number(ex[1]), t: performance.now() });
          const seq = /^\* (\d+) FETCH/.exec(l);
          const id = pattern.exec(l);
          if (!seq || !id) continue;
          const s = Number(seq[1]);
          const ev = events.find((e) => e.n >= s);
          if (ev && !this.seenAt.has(Number(id[1]))) this.seenAt.set(Number(id[1]), ev.t);
        }
        this.seen = top;
      }
    }
  }

  /** Waits until `want` returns true or `timeoutMs` passes, then stops watching and logs out. */
  async finish(want: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!want() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.stopped = true;
    await Promise.race([this.done, new Promise((r) => setTimeout(r, 5_000))]);
    this.c.close();
  }
}
