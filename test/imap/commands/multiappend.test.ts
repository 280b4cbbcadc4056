/**
 * MULTIAPPEND (RFC 3502) on a real node over a raw socket: several messages
 * in one APPEND, appended all or none, answered with an APPENDUID UID set
 * (RFC 4315 §3), and bounded (limits.imapAppendMessages, NO [LIMIT];
 * limits.imapLiteralBytes for the sum).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapLogin, message, norm } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

/** One message of a MULTIAPPEND: what precedes its literal (flags, date) and its bytes. */
interface Part {
  prefix?: string;
  body: string;
}

/**
 * Sends `tag APPEND mailbox` with each part as a synchronising literal,
 * waiting for each continuation; returns every line after the last
 * continuation up to the tagged reply (or the refusal that replaced a continuation).
 */
async function multiAppend(c: LineClient, tag: string, mailbox: string, parts: readonly Part[]): Promise<string[]> {
  let line = `${tag} APPEND ${mailbox}`;
  for (const p of parts) {
    c.write(`${line}${p.prefix ? ` ${p.prefix}` : ''} {${Buffer.byteLength(p.body)}}\r\n`);
    const cont = await c.readLine();
    if (!cont.startsWith('+ ')) return [cont];
    line = p.body;
  }
  c.write(`${line}\r\n`);
  return c.readUntil((l) => l.startsWith(`${tag} `));
}

/** The same with LITERAL+ (RFC 7888): everything in one write, no continuations. */
async function multiAppendNonSync(c: LineClient, tag: string, mailbox: string, parts: readonly Part[]): Promise<string[]> {
  const pieces = parts.map((p) => `${p.prefix ? ` ${p.prefix}` : ''} {${Buffer.byteLength(p.body)}+}\r\n${p.body}`);
  c.write(`${tag} APPEND ${mailbox}${pieces.join('')}\r\n`);
  return c.readUntil((l) => l.startsWith(`${tag} `));
}

async function count(c: LineClient, mailbox: string): Promise<string> {
  const res = await c.command('n', `STATUS ${mailbox} (MESSAGES)`);
  return res[0];
}

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({
    users: [ALICE, { address: 'q@example.com', password: 'qq', quota: { messages: 3 } }],
    limits: { maxMessageBytes: 2048, imapLiteralBytes: 4096, imapAppendMessages: 3 },
  });
});
afterAll(() => node.dispose());

describe('RFC 3502 MULTIAPPEND', () => {
  it('is advertised after login', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect((await c.command('c', 'CAPABILITY'))[0]).toMatch(/ MULTIAPPEND( |$)/);
    } finally {
      c.close();
    }
  });

  it('§6.3.11: each message with its own flags and date-time; APPENDUID carries a UID set (RFC 4315 §3); all are \\Recent', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE multi');
      const res = await multiAppend(c, 'a', 'multi', [
        { prefix: '(\\Seen)', body: message('one') },
        { prefix: '"01-Feb-2024 10:00:00 +0000"', body: message('two') },
        { prefix: '(\\Flagged $Work) "02-Mar-2024 11:30:00 +0000"', body: message('three') },
      ]);
      expect(norm(res)).toEqual(['a OK [APPENDUID <v> 1:3] APPEND completed']);
      const sel = await c.command('s', 'SELECT multi');
      expect(sel).toContain('* 3 EXISTS');
      expect(sel).toContain('* 3 RECENT');
      const fetched = await c.command('f', 'FETCH 1:3 (FLAGS INTERNALDATE)');
      expect(fetched[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) INTERNALDATE "/);
      expect(fetched[1]).toBe('* 2 FETCH (FLAGS (\\Recent) INTERNALDATE "01-Feb-2024 10:00:00 +0000")');
      expect(fetched[2]).toBe('* 3 FETCH (FLAGS (\\Flagged $Work \\Recent) INTERNALDATE "02-Mar-2024 11:30:00 +0000")');
      // A single message still gets a single UID (RFC 4315 §3 append-uid = uniqueid).
      expect(norm(await multiAppend(c, 'b', 'multi', [{ body: message('four') }]))).toEqual([
        '* 4 EXISTS',
        '* 4 RECENT',
        'b OK [APPENDUID <v> 4] APPEND completed',
      ]);
      // LITERAL+ carries the whole batch without continuations.
      expect(norm(await multiAppendNonSync(c, 'p', 'multi', [{ body: message('five') }, { prefix: '(\\Draft)', body: message('six') }]))).toEqual([
        '* 6 EXISTS',
        '* 6 RECENT',
        'p OK [APPENDUID <v> 5:6] APPEND completed',
      ]);
    } finally {
      c.close();
    }
  });

  it('§6.3.11: "If the server returns NO, none of the messages are appended" (quota, empty message, missing mailbox)', async () => {
    const c = await imapLogin(node.imapPort, 'q@example.com', 'qq');
    try {
      expect(norm(await multiAppend(c, 'a', 'INBOX', [{ body: message('q1') }, { body: message('q2') }]))).toEqual(['a OK [APPENDUID <v> 1:2] APPEND completed']);
      // Two more would be four of a quota of three: neither is stored.
      expect(await multiAppend(c, 'b', 'INBOX', [{ body: message('q3') }, { body: message('q4') }])).toEqual(['b NO [OVERQUOTA] Quota exceeded']);
      expect(await count(c, 'INBOX')).toBe('* STATUS "INBOX" (MESSAGES 2)');
      expect(await multiAppendNonSync(c, 'e', 'INBOX', [{ body: message('q3') }, { body: '' }])).toEqual(['e NO [CANNOT] Empty message']);
      expect(await count(c, 'INBOX')).toBe('* STATUS "INBOX" (MESSAGES 2)');
      expect(await multiAppend(c, 't', 'nowhere', [{ body: message('q3') }, { body: message('q4') }])).toEqual([
        't NO [TRYCREATE] folder nowhere does not exist',
      ]);
      // A malformed group (flags after the date) is a syntax error: nothing stored.
      expect(await multiAppendNonSync(c, 'x', 'INBOX', [{ body: message('q3') }, { prefix: '"01-Feb-2024 10:00:00 +0000" (\\Seen)', body: message('q4') }])).toEqual([
        'x BAD APPEND: Invalid APPEND arguments',
      ]);
      expect(await count(c, 'INBOX')).toBe('* STATUS "INBOX" (MESSAGES 2)');
    } finally {
      c.close();
    }
  });
});

describe('MULTIAPPEND bounds (limits.imapAppendMessages, limits.imapLiteralBytes)', () => {
  it('one message more than imapAppendMessages gets NO [LIMIT] (RFC 5530) before its literal is sent; nothing is stored', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE bounded');
      const four = ['1', '2', '3', '4'].map((s) => ({ body: message(`m${s}`) }));
      expect(await multiAppend(c, 'a', 'bounded', four)).toEqual(['a NO [LIMIT] Too many messages in one APPEND (max 3)']);
      // The session goes on with the next command.
      expect(await count(c, 'bounded')).toBe('* STATUS "bounded" (MESSAGES 0)');
      // LITERAL+: the bytes arrive unasked, the command is refused once they have.
      expect(await multiAppendNonSync(c, 'b', 'bounded', four)).toEqual(['b NO [LIMIT] Too many messages in one APPEND (max 3)']);
      expect(await count(c, 'bounded')).toBe('* STATUS "bounded" (MESSAGES 0)');
      expect(norm(await multiAppend(c, 'd', 'bounded', four.slice(0, 3)))).toEqual(['d OK [APPENDUID <v> 1:3] APPEND completed']);
    } finally {
      c.close();
    }
  });

  it('the messages together are bounded by imapLiteralBytes: the literal that passes it is refused NO [TOOBIG]', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE summed');
      const big = (s: string): Part => ({ body: message(s, 'z'.repeat(1500)) });
      expect(await multiAppend(c, 'a', 'summed', [big('a'), big('b'), big('c')])).toEqual(['a NO [TOOBIG] Literal too big (max 4096 octets in one command)']);
      expect(await count(c, 'summed')).toBe('* STATUS "summed" (MESSAGES 0)');
    } finally {
      c.close();
    }
  });
});
