import { BenchClient } from './client';
import { largeMessage, type BenchUser } from './corpus';

export interface FetchFigures {
  messages: number;
  bytes: number;
  appendMs: number;
  /** One entry per FETCH 1:* BODY.PEEK[] round. */
  rounds: { ms: number; literalBytes: number }[];
}

/**
 * Fills the user's INBOX with `count` 20–50 KB messages over IMAP (APPEND
 * with LITERAL+ `{n+}`, RFC 7888, a window of commands in flight, each
 * acknowledged only once durable), then times `FETCH 1:* BODY.PEEK[]`
 * `rounds` times on one connection.
 */
export async function fetchBench(port: number, user: BenchUser, count: number, rounds: number): Promise<FetchFigures> {
  const c = await BenchClient.connect(port);
  try {
    await c.login(user.address, user.password);
    const messages = Array.from({ length: count }, (_, i) => largeMessage(i));
    const bytes = messages.reduce((n, m) => n + m.length, 0);

    const window = 32;
    const inFlight: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const tag = c.nextTag();
      c.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${messages[i].length}+}\r\n`), messages[i], Buffer.from('\r\n')]));
      inFlight.push(tag);
      if (inFlight.length >= window) await expectOk(c, inFlight.shift() as string);
      await c.drained();
    }
    for (const tag of inFlight) await expectOk(c, tag);
    const appendMs = performance.now() - t0;

    const sel = await c.ok('EXAMINE INBOX');
    const exists = Number(/^\* (\d+) EXISTS$/m.exec(sel.lines.join('\n'))?.[1] ?? -1);
    if (exists !== count) throw new Error(`INBOX has ${exists} messages, expected ${count}`);
    const results: FetchFigures['rounds'] = [];
    for (let r = 0; r < rounds; r++) {
      const before = c.literalBytes;
      const t = performance.now();
      const res = await c.ok('FETCH 1:* BODY.PEEK[]', 120_000, () => false);
      const ms = performance.now() - t;
      const got = c.literalBytes - before;
      if (got !== bytes || res.count < count) throw new Error(`FETCH returned ${got} literal bytes in ${res.count} lines, expected ${bytes}`);
      results.push({ ms, literalBytes: got });
    }
    await c.logout();
    return { messages: count, bytes, appendMs, rounds: results };
  } finally {
    c.close();
  }
}

async function expectOk(c: BenchClient, tag: string): Promise<void> {
  const r = await c.waitTagged(tag, 60_000, () => false);
  if (!r.tagged.startsWith('OK')) throw new Error(`APPEND ${tag}: ${r.tagged}`);
}
