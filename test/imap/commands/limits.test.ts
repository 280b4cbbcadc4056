import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../mail-runtime/common/limits';
import { imapAppend, imapConnect, imapLogin, message, norm } from '../../helpers/imap';
import { fileImapNode, startTestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

/** Limits and hostile input: every case gets a protocol reply and the server keeps serving. */
const file = fileImapNode({}, ALICE);
const { login, keep } = file;

async function stillServing(): Promise<void> {
  const { c, greeting } = await imapConnect(file.node.imapPort);
  keep(c);
  expect(greeting).toMatch(/^\* OK \[CAPABILITY /);
  expect(await c.command('z', 'NOOP')).toEqual(['z OK NOOP completed']);
}

describe('literal and line limits (RFC 7888, RFC 4469 TOOBIG)', () => {
  it('refuses an APPEND literal above the message limit before reading it, and the session goes on', async () => {
    const c = await login();
    c.send(`a APPEND INBOX {${file.node.limits.maxMessageBytes + 1}}`);
    expect(await c.readLine()).toBe(`a NO [TOOBIG] Message too big (max ${file.node.limits.maxMessageBytes} octets)`);
    c.send(`b APPEND INBOX {${file.node.limits.imapLiteralBytes + 1}}`);
    expect(await c.readLine()).toMatch(/^b NO \[TOOBIG\] Literal too big/);
    expect(await c.command('c', 'NOOP')).toEqual(['c OK NOOP completed']);
  });

  it('a non-synchronising literal above the cap ends the connection with BYE (RFC 7888 §4)', async () => {
    const c = await login();
    c.send(`a APPEND INBOX {${file.node.limits.imapLiteralBytes + 1}+}`);
    expect(await c.readUntil((l) => l.startsWith('* BYE'))).toEqual([expect.stringMatching(/^a BAD \[TOOBIG\] /), '* BYE Connection cannot continue']);
    await c.waitClosed();
    await stillServing();
  });

  it('caps literals before login (only credentials are expected there)', async () => {
    const { c } = await imapConnect(file.node.imapPort);
    keep(c);
    c.send('a LOGIN {100000}');
    expect(await c.readLine()).toBe('a NO [TOOBIG] Literal too big before authentication');
  });

  it('an over-long command line gets BAD and the reader resynchronises', async () => {
    const c = await login();
    c.write(`a NOOP ${'x'.repeat(LIMITS.imapLineBytes + 10)}\r\n`);
    expect(await c.readLine()).toMatch(/^(a|\*) BAD Command line too long$/);
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
  });

  it('accepts a LITERAL+ APPEND without a continuation', async () => {
    const c = await login();
    const msg = message('literal plus');
    c.write(`a APPEND INBOX {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`);
    expect(await c.readUntil((l) => l.startsWith('a '))).toEqual([expect.stringMatching(/^a OK \[APPENDUID \d+ \d+\] APPEND completed$/)]);
  });
});

describe('bad commands and timeouts', () => {
  it(`says BYE after ${LIMITS.imapBadCommandsBeforeBye} bad commands in a row`, async () => {
    const c = await login();
    for (let i = 1; i < LIMITS.imapBadCommandsBeforeBye; i++) expect(await c.command(`b${i}`, 'BOGUS')).toEqual([`b${i} BAD Unknown command BOGUS`]);
    c.send('last BOGUS');
    expect(await c.readUntil((l) => l.startsWith('* BYE'))).toEqual(['last BAD Unknown command BOGUS', '* BYE Too many invalid commands']);
    await c.waitClosed();
  });

  it('a good command resets the bad-command count', async () => {
    const c = await login();
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i < LIMITS.imapBadCommandsBeforeBye; i++) await c.command('b', 'BOGUS');
      expect(await c.command('ok', 'NOOP')).toEqual(['ok OK NOOP completed']);
    }
  });

  it('autologout after the idle timeout (RFC 3501 §5.4)', async () => {
    const short = await startTestNode({ imapIdleTimeoutMs: 300 });
    try {
      const c = await imapLogin(short.imapPort, ALICE.address, ALICE.password);
      keep(c);
      expect(await c.readLine(10_000)).toBe('* BYE Autologout; idle for too long');
      await c.waitClosed();
    } finally {
      await short.dispose();
    }
  });
});

describe('folder names cannot escape the user folder', () => {
  const attempts = [
    '"../../etc"',
    '".."',
    '"a/../../b"',
    '"/abs"',
    '"INBOX/../../x"',
    '"a//b"',
    '"./x"',
    `"${'d/'.repeat(LIMITS.folderDepth + 2)}x"`,
    `"${'n'.repeat(LIMITS.folderNameBytes + 10)}"`,
  ];
  it.each(attempts)('CREATE %s is refused', async (name) => {
    const c = await login();
    const [reply] = await c.command('a', `CREATE ${name}`);
    expect(reply).toMatch(/^a (NO \[CANNOT\]|BAD) /);
  });

  it('control characters and NUL (through a literal) are refused; RENAME to an escaping name too', async () => {
    const c = await login();
    c.send('a CREATE {5}');
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(Buffer.from('ab\u0000cd\r\n', 'latin1'));
    expect(await c.readLine()).toMatch(/^a (NO \[CANNOT\]|BAD) /);
    expect(norm(await c.command('b', 'CREATE Safe'))).toEqual(['b OK [MAILBOXID <id>] CREATE completed']);
    expect((await c.command('c', 'RENAME Safe "../../Unsafe"'))[0]).toMatch(/^c (NO \[CANNOT\]|BAD) /);
    expect((await c.command('d', 'RENAME Safe "a/../../b"'))[0]).toMatch(/^d (NO \[CANNOT\]|BAD) /);
    expect((await imapAppend(c, 'e', '"../x"', message('x'))).pop()).toMatch(/^e (NO \[(CANNOT|TRYCREATE)\]|BAD) /);
  });

  it('nothing appeared outside the mail tree', async () => {
    const storage = join(file.node.dir, 'storage');
    const top = await readdir(storage);
    expect(top.every((n) => !/etc|Unsafe|abs|^x$|^b$/.test(n))).toBe(true);
    expect(await readdir(file.node.dir)).toEqual(expect.arrayContaining(['storage', 'users.yaml']));
    expect((await readdir(file.node.dir)).filter((n) => !['storage', 'users.yaml'].includes(n))).toEqual([]);
  });
});

describe('malformed input never crashes the server (fast-check)', () => {
  it('random bytes before login', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 400 }), async (bytes) => {
        const { c } = await imapConnect(file.node.imapPort);
        try {
          c.write(Buffer.from(bytes));
          c.write('\r\nzz NOOP\r\n');
          // Either the session answers the NOOP or it said BYE and closed; both are fine.
          try {
            await c.readUntil((l) => l.startsWith('zz ') || l.startsWith('* BYE'), 5000);
          } catch (err) {
            if (!c.closed) throw err;
          }
        } finally {
          c.close();
        }
      }),
      { numRuns: 40 },
    );
    await stillServing();
  });

  it('random command-like lines after login, with literals and brackets', async () => {
    const token = fc.oneof(
      fc.constantFrom('FETCH', 'UID', 'STORE', 'SEARCH', 'SELECT', 'LIST', 'APPEND', 'COPY', 'MOVE', 'STATUS', 'IDLE', 'AUTHENTICATE', 'ENABLE', 'ID', 'CREATE', 'RENAME'),
      fc.constantFrom('(', ')', '[', ']', '<', '>', '"', '\\', '*', '%', '{3}', '{2+}', 'NIL', 'BODY[', 'BODY.PEEK[HEADER.FIELDS (', '1:*', '$', '\u00ff'),
      fc.string({ maxLength: 8 }),
      fc.nat({ max: 5_000_000_000 }).map(String),
    );
    const line = fc.array(token, { minLength: 1, maxLength: 12 }).map((t) => t.join(' '));
    const c = await login();
    await c.command('s', 'SELECT INBOX');
    await fc.assert(
      fc.asyncProperty(line, async (l) => {
        if (c.closed) return;
        // Finish any literal or IDLE the random line may have started, then sync on a NOOP.
        c.write(`x1 ${l.replace(/[\r\n]/g, ' ')}\r\nabcdefgh\r\nDONE\r\n*\r\nsync NOOP\r\n`);
        try {
          await c.readUntil((r) => r.startsWith('sync ') || r.startsWith('* BYE'), 5000);
        } catch (err) {
          if (!c.closed) throw err;
        }
      }),
      { numRuns: 60 },
    );
    await stillServing();
  });
});

describe('append durability reply', () => {
  it('APPEND to a missing folder says TRYCREATE and creates nothing', async () => {
    const c = await login();
    expect((await imapAppend(c, 'a', 'Missing', message('m')))[1]).toMatch(/^a NO \[TRYCREATE\] /);
    expect(await c.command('l', 'LIST "" Missing')).toEqual(['l OK LIST completed']);
  });
});
