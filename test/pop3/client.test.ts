/**
 * POP3 through a real client library, node-pop3 0.11.0, against a real node
 * (store on disk, IMAP and POP3 on loopback). Messages go in over IMAP
 * APPEND and come out over POP3; a DELE + QUIT must expunge from the store,
 * which IMAP then confirms (RFC 1939 §6: deletions happen in the UPDATE
 * state).
 *
 * What node-pop3 does and does not do, so the assertions below read right:
 * - It returns a multi-line body raw: the terminating `CRLF.CRLF` is cut
 *   off (taking the message's own last CRLF with it) and byte-stuffed lines
 *   (RFC 1939 §3) are NOT un-stuffed. The test un-stuffs and adds the CRLF
 *   back, which also proves the server stuffed correctly.
 * - It speaks plaintext and implicit TLS (POP3S, RFC 8314); it has no STLS
 *   command, so STLS is covered by the raw-socket tests in pop3.test.ts.
 * - Import: the package is ESM with a CommonJS build (`lib/Command.cjs`,
 *   `module.exports = Pop3Command`); a default import works both under
 *   vitest (ESM entry) and under tsc/tsx in our CommonJS setting
 *   (esModuleInterop).
 */
import Pop3Command from 'node-pop3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin } from '../helpers/imap';
import { startTestNode, type TestNode } from '../helpers/node';
import { ALICE, BOB } from '../helpers/users';

let node: TestNode;

const PLAIN = [
  'From: Sender <sender@example.org>',
  'To: Alice <alice@example.com>',
  'Subject: first',
  'Date: Mon, 1 Jan 2024 10:00:00 +0000',
  'Message-ID: <first@example.org>',
  '',
  'line one',
  'line two',
  'line three',
  '',
].join('\r\n');
/** Lines starting with "." must be byte-stuffed on the wire (RFC 1939 §3). */
const DOTTED = [
  'From: Sender <sender@example.org>',
  'To: Alice <alice@example.com>',
  'Subject: dots',
  '',
  '.leading dot',
  '..two dots',
  '.',
  'end',
  '',
].join('\r\n');
const THIRD = ['From: x@example.org', 'Subject: third', '', 'body of the third', ''].join('\r\n');
const MESSAGES = [PLAIN, DOTTED, THIRD];
const TOTAL = MESSAGES.reduce((n, m) => n + Buffer.byteLength(m), 0);

function client(opts: { user?: string; password?: string; tls?: boolean; rejectUnauthorized?: boolean } = {}): Pop3Command {
  const pop = new Pop3Command({
    host: '127.0.0.1',
    port: opts.tls ? node.pop3sPort : node.pop3Port,
    user: opts.user ?? ALICE.address,
    password: opts.password ?? ALICE.password,
    timeout: 10_000,
    // servername: SNI must be a host name (RFC 6066 §3); the test node calls itself imap.test.
    ...(opts.tls ? { tls: true, servername: 'imap.test', tlsOptions: { rejectUnauthorized: opts.rejectUnauthorized ?? false } } : {}),
  });
  // node-pop3 emits 'error' for an unsolicited -ERR (e.g. the shutdown notice);
  // without a listener that would be an uncaught exception. Commands still
  // reject through their own listener.
  pop.on('error', () => undefined);
  return pop;
}

const quitted = new WeakSet<Pop3Command>();
/**
 * QUIT once. node-pop3 writes a second QUIT to a closing socket and then
 * waits forever for the reply, so never send it twice; bounded anyway.
 */
async function quit(pop: Pop3Command): Promise<string> {
  if (quitted.has(pop)) return '';
  quitted.add(pop);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((_, reject) => {
    timer = setTimeout(() => reject(new Error('QUIT timed out')), 5000);
  });
  try {
    return await Promise.race([pop.QUIT(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A logged-in client. The server releases the maildrop lock (RFC 1939 §4)
 * before it answers QUIT, so a session opened right after another one's
 * QUIT never meets a stale [IN-USE].
 */
async function connected(opts: Parameters<typeof client>[0] = {}): Promise<Pop3Command> {
  const pop = client(opts);
  await pop.NOOP();
  return pop;
}

/** What node-pop3 hands back for a multi-line reply → the bytes the server meant (RFC 1939 §3). */
function unstuff(body: string): string {
  return `${body}\r\n`
    .split('\r\n')
    .map((l) => (l.startsWith('.') ? l.slice(1) : l))
    .join('\r\n');
}

async function imapInbox(user = ALICE): Promise<{ exists: number; uids: number[] }> {
  const c = await imapLogin(node.imapPort, user.address, user.password);
  try {
    const sel = await c.command('s', 'SELECT INBOX');
    const exists = Number(/^\* (\d+) EXISTS$/m.exec(sel.join('\n'))?.[1] ?? -1);
    const search = await c.command('u', 'UID SEARCH ALL');
    const uids = (search.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').slice(2).map(Number);
    await c.command('o', 'LOGOUT');
    return { exists, uids };
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  node = await startTestNode({ pop3s: true });
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  for (const [i, m] of MESSAGES.entries()) {
    const r = await imapAppend(c, `a${i}`, 'INBOX', m);
    if (!r[r.length - 1].startsWith(`a${i} OK`)) throw new Error(`append failed: ${r.join(' / ')}`);
  }
  c.close();
});
afterAll(() => node.dispose());

describe('node-pop3 over plaintext on loopback (RFC 1939)', () => {
  it('logs in with USER/PASS and reads STAT, LIST, UIDL, RETR and TOP', async () => {
    const pop = await connected();
    try {
      expect(await pop.STAT()).toBe(`${MESSAGES.length} ${TOTAL}`);
      const list = (await pop.LIST()) as string[][];
      expect(list).toEqual(MESSAGES.map((m, i) => [String(i + 1), String(Buffer.byteLength(m))]));
      expect(await pop.LIST(2)).toEqual(['2', String(Buffer.byteLength(DOTTED))]);

      const uidl = (await pop.UIDL()) as string[][];
      expect(uidl.map((u) => u[0])).toEqual(['1', '2', '3']);
      const ids = uidl.map((u) => u[1]);
      // RFC 1939 §7: 1 to 70 characters in 0x21..0x7E, unique in the maildrop.
      for (const id of ids) expect(id).toMatch(/^[\x21-\x7e]{1,70}$/);
      expect(new Set(ids).size).toBe(3);
      expect(await pop.UIDL(3)).toEqual(['3', ids[2]]);

      const first = await pop.RETR(1);
      expect(unstuff(first)).toBe(PLAIN);
      // CRLF preserved: no bare LF anywhere.
      expect(first.replace(/\r\n/g, '')).not.toContain('\n');
      const dotted = await pop.RETR(2);
      // On the wire the dot lines were stuffed; un-stuffed they are the message again.
      expect(dotted).toContain('\r\n..leading dot\r\n...two dots\r\n..\r\nend');
      expect(unstuff(dotted)).toBe(DOTTED);

      // TOP n 1: the header, the blank line, and one body line (RFC 1939 §7).
      expect(unstuff(await pop.TOP(1, 1))).toBe(`${PLAIN.split('\r\n\r\n')[0]}\r\n\r\nline one\r\n`);
      expect(unstuff(await pop.TOP(1, 0))).toBe(`${PLAIN.split('\r\n\r\n')[0]}\r\n\r\n`);
      expect(await quit(pop)).toMatch(/./);
    } finally {
      await quit(pop).catch(() => undefined);
    }
    // QUIT without DELE removes nothing.
    expect((await imapInbox()).exists).toBe(3);
  });

  it('a second session on the same maildrop is refused with [IN-USE] while the first is open (RFC 1939 §4)', async () => {
    const first = await connected();
    const second = client();
    try {
      await expect(second.STAT()).rejects.toThrow(/\[IN-USE\]/);
    } finally {
      await quit(second).catch(() => undefined);
      await quit(first).catch(() => undefined);
    }
  });

  it('UIDL is stable across sessions', async () => {
    const a = await connected();
    const first = await a.UIDL();
    await quit(a);
    const b = await connected();
    try {
      expect(await b.UIDL()).toEqual(first);
    } finally {
      await quit(b).catch(() => undefined);
    }
  });

  it('a wrong password is refused', async () => {
    const pop = client({ password: 'wrong' });
    try {
      await expect(pop.STAT()).rejects.toThrow(/./);
    } finally {
      await quit(pop).catch(() => undefined);
    }
  });

  it('an empty maildrop: STAT 0 0, LIST empty', async () => {
    const pop = await connected({ user: BOB.address, password: BOB.password });
    try {
      expect(await pop.STAT()).toBe('0 0');
      expect(await pop.LIST()).toEqual([]);
    } finally {
      await quit(pop).catch(() => undefined);
    }
  });
});

describe('node-pop3 over POP3S (implicit TLS, RFC 8314 §3.3) with the self-signed certificate', () => {
  it('refuses the connection when the certificate is verified (it is self-signed)', async () => {
    const pop = client({ tls: true, rejectUnauthorized: true });
    await expect(pop.STAT()).rejects.toThrow(/self[- ]signed|certificate/i);
    quitted.add(pop); // never connected
  });

  it('logs in and retrieves over TLS', async () => {
    const pop = await connected({ tls: true });
    try {
      expect(await pop.STAT()).toBe(`${MESSAGES.length} ${TOTAL}`);
      expect(unstuff(await pop.RETR(3))).toBe(THIRD);
    } finally {
      await quit(pop).catch(() => undefined);
    }
  });
});

describe('DELE + QUIT expunges from the store (RFC 1939 §6 UPDATE)', () => {
  it('the deleted message is gone for IMAP too, the others keep their UIDs', async () => {
    const before = await imapInbox();
    expect(before.uids).toHaveLength(3);
    const pop = await connected();
    const ids = (await pop.UIDL()) as string[][];
    await pop.DELE(2);
    // Within the session the message is hidden (§5 DELE) ...
    expect(await pop.STAT()).toBe(`2 ${TOTAL - Buffer.byteLength(DOTTED)}`);
    // ... and only QUIT makes it permanent.
    expect((await imapInbox()).exists).toBe(3);
    expect(await quit(pop)).toMatch(/./);

    const after = await imapInbox();
    expect(after.exists).toBe(2);
    expect(after.uids).toEqual([before.uids[0], before.uids[2]]);

    const again = await connected();
    try {
      expect(await again.STAT()).toBe(`2 ${TOTAL - Buffer.byteLength(DOTTED)}`);
      expect(((await again.UIDL()) as string[][]).map((u) => u[1])).toEqual([ids[0][1], ids[2][1]]);
      expect(unstuff(await again.RETR(2))).toBe(THIRD);
    } finally {
      await quit(again).catch(() => undefined);
    }
  });
});
