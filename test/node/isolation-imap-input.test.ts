import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../mail-runtime/common/limits';
import { imapConnect, imapLogin, message } from '../helpers/imap';
import type { LineClient } from '../helpers/line-client';
import { spawnNodeMember, type SpawnedMember } from '../helpers/node';
import { ALICE, writeUsersFile } from '../helpers/users';

/**
 * Issue 9, input bounds, against a real member (`mailfleet run --config`):
 * - after login a mailbox name or search string could be a 64 MiB literal
 *   (`SELECT {60000000+}` stalled the node for 7–10 s and took 2 GB); only
 *   APPEND's message may be that big (RFC 7888 §4, RFC 4469 TOOBIG);
 * - a 20 MB AUTHENTICATE response line desynchronised the session (RFC 3501
 *   §6.2.2: it is one line; the next line must be a command again);
 * - 8-bit bytes in tags were echoed (RFC 3501 §9 `tag`, `text` are 7-bit).
 */
let dir: string;
let member: SpawnedMember;
const open: LineClient[] = [];
const NAME = LIMITS.imapMailboxNameBytes;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-isolation-input-'));
  await writeUsersFile(join(dir, 'users.yaml'), [ALICE]);
  member = await spawnNodeMember(dir, { memberId: 'isolation-input', cluster: 'isolation' });
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
afterAll(async () => {
  await member?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function login(): Promise<LineClient> {
  const c = await imapLogin(member.imapPort, ALICE.address, ALICE.password);
  open.push(c);
  return c;
}

async function fresh(): Promise<LineClient> {
  const { c } = await imapConnect(member.imapPort);
  open.push(c);
  return c;
}

describe('literals are capped by what they carry (RFC 7888 §4, RFC 4469)', () => {
  it('SELECT {60000000+} (the finding): TOOBIG and BYE at once, none of the 60 MB is waited for', async () => {
    const c = await login();
    c.send('a SELECT {60000000+}');
    expect(await c.readUntil((l) => l.startsWith('* BYE'))).toEqual([
      `a BAD [TOOBIG] Mailbox name literal too big (max ${NAME} octets)`,
      '* BYE Connection cannot continue',
    ]);
    await c.waitClosed();
    // The node goes on serving.
    const other = await login();
    expect(await other.command('n', 'NOOP')).toEqual(['n OK NOOP completed']);
  });

  it('eight such sessions at once: each is refused and closed', async () => {
    const cs = await Promise.all(Array.from({ length: 8 }, () => login()));
    for (const c of cs) c.send('a SELECT {60000000+}');
    for (const c of cs) {
      expect(await c.readUntil((l) => l.startsWith('* BYE'))).toHaveLength(2);
      await c.waitClosed();
    }
  });

  it('a synchronising mailbox literal over the cap: NO [TOOBIG] instead of a continuation; the session goes on', async () => {
    const c = await login();
    c.send(`a SELECT {${NAME + 1}}`);
    expect(await c.readLine()).toBe(`a NO [TOOBIG] Mailbox name literal too big (max ${NAME} octets)`);
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
  });

  it('a small {n+} mailbox literal over the cap is read and dropped; the session goes on', async () => {
    const c = await login();
    c.write(`a SELECT {${NAME + 1}+}\r\n${'x'.repeat(NAME + 1)}\r\nb NOOP\r\n`);
    expect(await c.readUntil((l) => l.startsWith('b '))).toEqual([`a BAD [TOOBIG] Mailbox name literal too big (max ${NAME} octets)`, 'b OK NOOP completed']);
  });

  it('a search string over LIMITS.imapStringBytes is refused, one at the cap is searched', async () => {
    const c = await login();
    await c.command('s', 'SELECT INBOX');
    c.send(`a SEARCH TEXT {${LIMITS.imapStringBytes + 1}}`);
    expect(await c.readLine()).toBe(`a NO [TOOBIG] Literal too big (max ${LIMITS.imapStringBytes} octets)`);
    c.send(`b SEARCH TEXT {${LIMITS.imapStringBytes}}`);
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(`${'y'.repeat(LIMITS.imapStringBytes)}\r\n`);
    expect(await c.readUntil((l) => l.startsWith('b '))).toEqual(['* SEARCH', 'b OK SEARCH completed']);
  });

  it('a quoted mailbox name longer than any folder can be: NO [LIMIT]', async () => {
    const c = await login();
    expect(await c.command('a', `SELECT "${'n'.repeat(NAME + 1)}"`)).toEqual([`a NO [LIMIT] SELECT: Mailbox name longer than ${NAME} octets`]);
  });

  it('APPEND keeps the message limit: a mailbox literal first, then a message far above the string caps', async () => {
    const c = await login();
    const msg = message('big append', `${'z'.repeat(76)}\r\n`.repeat(2000));
    c.send('a APPEND {5}');
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(`INBOX {${Buffer.byteLength(msg)}}\r\n`);
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(`${msg}\r\n`);
    expect(await c.readLine()).toMatch(/^a OK \[APPENDUID \d+ \d+\] APPEND completed$/);
  });
});

describe('AUTHENTICATE responses are one bounded line (RFC 3501 §6.2.2)', () => {
  it('a 20 MB response (the finding): BAD, and the NOOP pipelined behind it is answered as a command', async () => {
    const c = await fresh();
    c.send('a AUTHENTICATE PLAIN');
    expect(await c.readLine()).toBe('+ ');
    const piece = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 20; i++) c.write(piece);
    c.write('\r\nb NOOP\r\n');
    expect(await c.readUntil((l) => l.startsWith('b '), 30_000)).toEqual([
      `a BAD Authentication response longer than ${LIMITS.imapSaslLineBytes} octets`,
      'b OK NOOP completed',
    ]);
    // Still in sync: a real login works on the same connection.
    const creds = Buffer.from(`\0${ALICE.address}\0${ALICE.password}`).toString('base64');
    expect(await c.command('c', `AUTHENTICATE PLAIN ${creds}`)).toEqual([expect.stringMatching(/^c OK \[CAPABILITY .*\] Logged in$/)]);
  });

  it('just over the SASL cap (well under the command line cap): the same', async () => {
    const c = await fresh();
    c.send('a AUTHENTICATE PLAIN');
    expect(await c.readLine()).toBe('+ ');
    c.write(`${'A'.repeat(LIMITS.imapSaslLineBytes + 1)}\r\nb NOOP\r\n`);
    expect(await c.readUntil((l) => l.startsWith('b '))).toEqual([`a BAD Authentication response longer than ${LIMITS.imapSaslLineBytes} octets`, 'b OK NOOP completed']);
  });
});

describe('nothing the client sent is echoed raw (RFC 3501 §9: tags and text are 7-bit)', () => {
  it('an 8-bit tag gets an untagged BAD without the tag', async () => {
    const c = await fresh();
    c.write(Buffer.concat([Buffer.from([0xe9, 0x74, 0xff]), Buffer.from(' NOOP\r\n')]));
    expect(await c.readLine()).toBe('* BAD Invalid tag');
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
  });

  it('8-bit bytes in an argument quoted back in an error become "?"', async () => {
    const c = await login();
    await c.command('s', 'SELECT INBOX');
    c.write(Buffer.concat([Buffer.from('a SEARCH '), Buffer.from('é', 'utf8'), Buffer.from('\r\n')]));
    // LineClient reads latin1: the raw bytes would show as "Ã\x89".
    expect(await c.readUntil((l) => l.startsWith('a '))).toEqual(['a BAD SEARCH: Unknown search key ?']);
  });
});
