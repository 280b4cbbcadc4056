import { ImapFlow } from 'imapflow';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedFileReader } from '../../../mail-runtime/store/file-reader';
import { startTestNode, type TestNode } from '../../helpers/node';
import { waitFor } from '../../helpers/wait';

/**
 * FETCH writes its responses in batches (commands/fetch.ts FLUSH_BYTES, one
 * corked writev each, session.sendAll) and waits for the socket after each.
 * Real node, real sockets: bodies arrive byte-exact whatever the batch
 * boundaries (RFC 3501 §4.3 literals, §7.4.2 FETCH BODY[]); a client that
 * stops reading holds the node to a bounded amount of work and slows
 * nobody else; a message expunged by another session while the FETCH waits
 * is answered with NO [EXPUNGEISSUED] (RFC 2180 §4.1.2, RFC 5530).
 */
const USER = { address: 'batch@example.com', password: 'batch-pw' };
let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ users: [USER] });
});
afterAll(() => node.dispose());

function client(): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: USER.address, pass: USER.password }, logger: false, tls: { rejectUnauthorized: false } });
}

/** A message of about `size` bytes: CRLF lines with 8-bit bytes in them (no NUL), different for each `seed`. */
function makeMessage(seed: number, size: number): Buffer {
  const head = Buffer.from(`From: a@example.org\r\nTo: ${USER.address}\r\nSubject: batch ${seed}\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`);
  const body = Buffer.alloc(Math.max(0, size - head.length));
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < body.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    // Every 76th byte pair is CRLF; otherwise printable ASCII or 8-bit (0xa0–0xff).
    body[i] = i % 78 === 76 ? 0x0d : i % 78 === 77 ? 0x0a : x & 0x100 ? 0xa0 + (x % 96) : 0x20 + (x % 95);
  }
  if (body.length >= 2) body.set([0x0d, 0x0a], body.length - 2);
  return Buffer.concat([head, body]);
}

/** Appends `messages` to INBOX of a fresh (emptied) mailbox, in order. */
async function fill(messages: readonly Buffer[]): Promise<void> {
  const c = client();
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX');
    try {
      if ((c.mailbox && typeof c.mailbox === 'object' ? c.mailbox.exists : 0) > 0) await c.messageDelete('1:*');
    } finally {
      lock.release();
    }
    for (const m of messages) await c.append('INBOX', m);
  } finally {
    await c.logout();
  }
}

/** A raw IMAP session whose reading the test controls: everything received is kept as bytes. */
class RawSession {
  private chunks: Buffer[] = [];
  private size = 0;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.size += d.length;
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<RawSession> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const s = new RawSession(socket);
    await waitFor(() => s.tail(4096).includes('\r\n'), 'greeting');
    return s;
  }

  bytes(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  received(): number {
    return this.size;
  }

  /** The last `n` bytes received, as latin1 text (cheap to poll while megabytes arrive). */
  tail(n: number): string {
    const parts: Buffer[] = [];
    let have = 0;
    for (let i = this.chunks.length - 1; i >= 0 && have < n; i--) {
      parts.unshift(this.chunks[i]!);
      have += this.chunks[i]!.length;
    }
    const b = Buffer.concat(parts);
    return b.toString('latin1', Math.max(0, b.length - n));
  }

  /** Waits (bounded) until the tagged reply of `tag` has arrived (it ends what was received); returns it. */
  async tagged(tag: string, timeoutMs = 20_000): Promise<string> {
    const re = new RegExp(`(^|\\r\\n)${tag} ([^\\r]*)\\r\\n$`);
    await waitFor(() => re.test(this.tail(4096)), `${tag} reply`, timeoutMs);
    return re.exec(this.tail(4096))![2]!;
  }

  /** Sends a command and waits for its tagged reply; returns the tagged line. */
  async command(tag: string, cmd: string): Promise<string> {
    this.socket.write(`${tag} ${cmd}\r\n`);
    return this.tagged(tag);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * The untagged responses in `buf` up to the tagged reply of `tag`, each
 * with its literals (RFC 3501 §4.3 `{n}` CRLF then n octets), and the
 * tagged line. Throws on anything it cannot parse.
 */
function parseResponses(buf: Buffer, tag: string): { responses: Array<{ text: string; literals: Buffer[] }>; tagged: string } {
  const responses: Array<{ text: string; literals: Buffer[] }> = [];
  let at = 0;
  for (;;) {
    const text: string[] = [];
    const literals: Buffer[] = [];
    for (;;) {
      const lf = buf.indexOf('\r\n', at, 'latin1');
      if (lf < 0) throw new Error(`unterminated response at ${at}`);
      const line = buf.toString('latin1', at, lf);
      at = lf + 2;
      text.push(line);
      const m = /\{(\d+)\}$/.exec(line);
      if (!m) break;
      const n = Number(m[1]);
      if (at + n > buf.length) throw new Error(`literal of ${n} octets cut short at ${at}`);
      literals.push(buf.subarray(at, at + n));
      at += n;
    }
    const joined = text.join('');
    if (joined.startsWith(`${tag} `)) return { responses, tagged: joined.slice(tag.length + 1) };
    responses.push({ text: joined, literals });
  }
}

/** BODY[] of each `* n FETCH (... BODY[] {..} ...)` response, by sequence number. */
function bodiesBySeq(responses: ReadonlyArray<{ text: string; literals: Buffer[] }>): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const r of responses) {
    const m = /^\* (\d+) FETCH \(.*BODY\[\] \{\d+\}/.exec(r.text);
    if (!m) continue;
    expect(out.has(Number(m[1]))).toBe(false); // each message answered once
    out.set(Number(m[1]), r.literals[0]!);
  }
  return out;
}

const filesRead = (): number => sharedFileReader().stats.threadFiles + sharedFileReader().stats.fallbackFiles;

describe('FETCH written in batches', () => {
  it('imapflow gets every body byte-exact, small (copied into the text) and large (own chunks), across batch boundaries', async () => {
    // 1 KiB–600 KiB: below and above the compiler's inline-literal size (16 KiB), and above one write batch (256 KiB).
    const sizes = [1_000, 600_000, 15_000, 17_000, 40_000, 300_000, 2_000, 90_000, 16_384, 16_385, 255_000, 70_000];
    const messages = Array.from({ length: 48 }, (_, i) => makeMessage(i, sizes[i % sizes.length]! + i));
    await fill(messages);
    const c = client();
    await c.connect();
    try {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const got = await c.fetchAll('1:*', { source: true, uid: true });
        expect(got.length).toBe(messages.length);
        for (const m of got) expect(m.source?.equals(messages[m.seq - 1]!), `message ${m.seq}`).toBe(true);
        // Partial bodies and the raw FETCH of a few, in the same batched path.
        const part = await c.fetchOne('2', { bodyParts: ['TEXT'], source: { start: 100, maxLength: 5000 } });
        expect(part && part.source?.equals(messages[1]!.subarray(100, 5100))).toBe(true);
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  });

  it('a client that stops reading holds the node to a bounded read-ahead and slows only itself; a message expunged meanwhile gets NO [EXPUNGEISSUED]', async () => {
    const count = 150;
    const messages = Array.from({ length: count }, (_, i) => makeMessage(1000 + i, 200_000));
    await fill(messages);
    const slow = await RawSession.open(node.imapPort);
    try {
      expect(await slow.command('a1', `LOGIN ${USER.address} ${USER.password}`)).toMatch(/^OK/);
      expect(await slow.command('a2', 'SELECT INBOX')).toMatch(/^OK/);
      const before = filesRead();
      const from = slow.received();
      // Stop reading at once: had the client read a while, Linux would have grown its receive
      // buffer (up to tcp_rmem's maximum, 32 MiB here) and the kernel alone could hold the lot.
      slow.socket.pause();
      slow.socket.write('a3 FETCH 1:* BODY.PEEK[]\r\n');
      // The node reads files until its writes are stuck; then the count stays put (bounded wait).
      let last = -1;
      let still = 0;
      for (let i = 0; i < 200 && still < 5; i++) {
        const now = filesRead();
        still = now === last ? still + 1 : 0;
        last = now;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(still).toBe(5);
      const readWhileStalled = filesRead() - before;
      // 150 × 200 KB = 30 MB asked for; the kernel's buffers (a few MB on loopback), one write batch
      // and the 4 MiB read-ahead hold a fraction of it: without the wait for the socket the node
      // would read (and queue in memory) all 150.
      expect(readWhileStalled).toBeGreaterThan(0);
      expect(readWhileStalled).toBeLessThan(count * 0.6);

      // Another session of the same user is not held up: it fetches bodies and expunges the last message.
      const other = client();
      await other.connect();
      try {
        const lock = await other.getMailboxLock('INBOX');
        try {
          const some = await other.fetchAll('1:3', { source: true });
          expect(some.map((m) => m.source?.equals(messages[m.seq - 1]!))).toEqual([true, true, true]);
          await other.messageDelete(String(count));
        } finally {
          lock.release();
        }
      } finally {
        await other.logout();
      }

      // The slow client reads again: every other body arrives byte-exact, then the tagged NO.
      slow.socket.resume();
      await slow.tagged('a3', 60_000);
      const { responses, tagged } = parseResponses(slow.bytes().subarray(from), 'a3');
      expect(tagged).toMatch(/^NO \[EXPUNGEISSUED\]/);
      const bodies = bodiesBySeq(responses);
      expect(bodies.size).toBe(count - 1);
      expect(bodies.has(count)).toBe(false);
      for (const [seq, body] of bodies) expect(body.equals(messages[seq - 1]!), `message ${seq}`).toBe(true);
    } finally {
      slow.close();
    }
  }, 120_000);
});
