import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecentRegistry } from '../../../mail-runtime/imap/recent';
import { MailStore } from '../../../mail-runtime/store';
import { imapAppend, message, norm } from '../../helpers/imap';
import { type LineClient } from '../../helpers/line-client';
import { fileImapNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

/**
 * `\Recent` (RFC 3501 §2.3.2): recent for exactly one session, the first
 * read-write session told about the message. Raw socket, exact replies
 * (UIDVALIDITY, INTERNALDATE and HIGHESTMODSEQ normalised). Every test uses
 * its own folder, so the order of tests does not matter.
 */
type Row = [command: string, reply: string[]];

const { login } = fileImapNode({ users: [ALICE] }, ALICE);
let folders = 0;
/** A folder name no other test uses. */
const fresh = (prefix: string): string => `${prefix}${++folders}`;

const clean = (lines: string[]): string[] => norm(lines).map((l) => l.replace(/HIGHESTMODSEQ \d+/, 'HIGHESTMODSEQ <m>'));

async function script(c: LineClient, rows: Row[]): Promise<void> {
  let n = 0;
  for (const [command, reply] of rows) {
    const tag = `r${++n}`;
    const got = clean(await c.command(tag, command)).map((l) => l.replace(new RegExp(`^${tag} `), 'TAG '));
    expect({ command, reply: got }).toEqual({ command, reply });
  }
}

/** A new folder holding `count` messages appended by a session that then goes away. */
async function folderWith(name: string, count: number): Promise<void> {
  const c = await login();
  expect(norm(await c.command('c', `CREATE ${name}`))).toEqual(['c OK [MAILBOXID <id>] CREATE completed']);
  for (let i = 1; i <= count; i++) {
    expect((await imapAppend(c, `a${i}`, name, message(`${name}-${i}`)))[1]).toMatch(/^a\d+ OK \[APPENDUID /);
  }
  c.close();
}

/** The whole SELECT / EXAMINE reply for a folder of unseen messages. */
function opened(kind: 'SELECT' | 'EXAMINE', exists: number, recent: number, uidNext: number): string[] {
  const rw = kind === 'SELECT';
  return [
    '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
    rw
      ? '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted'
      : '* OK [PERMANENTFLAGS ()] Read-only mailbox',
    `* ${exists} EXISTS`,
    `* ${recent} RECENT`,
    ...(exists ? ['* OK [UNSEEN 1] First unseen'] : []),
    '* OK [UIDVALIDITY <v>] UIDs valid',
    `* OK [UIDNEXT ${uidNext}] Predicted next UID`,
    '* OK [MAILBOXID <id>] Ok',
    '* OK [HIGHESTMODSEQ <m>] Highest',
    rw ? 'TAG OK [READ-WRITE] SELECT completed' : 'TAG OK [READ-ONLY] EXAMINE completed',
  ];
}

describe('RFC 3501 §2.3.2, §6.3.1, §6.3.2: the first SELECT claims, EXAMINE only looks', () => {
  it('new messages are recent for the first read-write session and for no other', async () => {
    await folderWith('Claim', 2);
    const reader = await login();
    const first = await login();
    const second = await login();
    await script(reader, [
      ['STATUS Claim (MESSAGES RECENT)', ['* STATUS "Claim" (MESSAGES 2 RECENT 2)', 'TAG OK STATUS completed']],
      // EXAMINE must not make messages lose \Recent (§6.3.2): it reports them and claims none.
      ['EXAMINE Claim', opened('EXAMINE', 2, 2, 3)],
      ['FETCH 1:* FLAGS', ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))', 'TAG OK FETCH completed']],
      ['SEARCH RECENT', ['* SEARCH 1 2', 'TAG OK SEARCH completed']],
      ['STATUS Claim (RECENT)', ['* STATUS "Claim" (RECENT 2)', 'TAG OK STATUS completed']],
    ]);
    await script(first, [
      ['SELECT Claim', opened('SELECT', 2, 2, 3)],
      ['FETCH 1:* FLAGS', ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))', 'TAG OK FETCH completed']],
      ['STATUS Claim (RECENT)', ['* STATUS "Claim" (RECENT 0)', 'TAG OK STATUS completed']],
    ]);
    await script(second, [
      ['SELECT Claim', opened('SELECT', 2, 0, 3)],
      ['FETCH 1:* FLAGS', ['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS ())', 'TAG OK FETCH completed']],
    ]);
    // The flag belongs to the session: once it leaves, no one sees the messages as recent again.
    await script(first, [
      ['UNSELECT', ['TAG OK UNSELECT completed']],
      ['SELECT Claim', opened('SELECT', 2, 0, 3)],
    ]);
  });
});

describe('RFC 3501 §6.4.4 SEARCH RECENT, NEW, OLD', () => {
  it.each<Row>([
    ['SEARCH RECENT', ['* SEARCH 1 2 3', 'TAG OK SEARCH completed']],
    // NEW = RECENT UNSEEN; message 2 was read below.
    ['SEARCH NEW', ['* SEARCH 1 3', 'TAG OK SEARCH completed']],
    ['SEARCH OLD', ['* SEARCH', 'TAG OK SEARCH completed']],
    ['SEARCH NOT RECENT', ['* SEARCH', 'TAG OK SEARCH completed']],
    ['UID SEARCH RECENT SEEN', ['* SEARCH 2', 'TAG OK SEARCH completed']],
  ])('%s (claiming session)', async (command, reply) => {
    const name = fresh('Search');
    await folderWith(name, 3);
    const c = await login();
    await c.command('s', `SELECT ${name}`);
    await c.command('f', 'STORE 2 +FLAGS.SILENT (\\Seen)');
    await script(c, [[command, reply]]);
  });

  it('a session that did not claim sees every message as OLD', async () => {
    await folderWith('SearchOld', 2);
    const claimer = await login();
    await claimer.command('s', 'SELECT SearchOld');
    const late = await login();
    await late.command('s', 'SELECT SearchOld');
    await script(late, [
      ['SEARCH OLD', ['* SEARCH 1 2', 'TAG OK SEARCH completed']],
      ['SEARCH NEW', ['* SEARCH', 'TAG OK SEARCH completed']],
    ]);
  });
});

describe('RFC 3501 §7.3.2 RECENT when new mail arrives', () => {
  it('the first read-write session told about it claims it; the others only get EXISTS', async () => {
    await folderWith('Arrive', 1);
    const a = await login();
    const b = await login();
    const viewer = await login();
    await script(a, [['SELECT Arrive', opened('SELECT', 1, 1, 2)]]);
    await script(b, [['SELECT Arrive', opened('SELECT', 1, 0, 2)]]);
    await script(viewer, [['EXAMINE Arrive', opened('EXAMINE', 1, 0, 2)]]);
    const writer = await login();
    expect((await imapAppend(writer, 'w', 'Arrive', message('arrive-2')))[1]).toMatch(/^w OK /);
    // b asks first, so message 2 is b's; a keeps its message 1.
    await script(b, [
      ['NOOP', ['* 2 EXISTS', '* 1 RECENT', 'TAG OK NOOP completed']],
      ['FETCH 1:* FLAGS', ['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS (\\Recent))', 'TAG OK FETCH completed']],
    ]);
    await script(a, [
      // The recent count did not change for a: no RECENT response.
      ['NOOP', ['* 2 EXISTS', 'TAG OK NOOP completed']],
      ['FETCH 1:* FLAGS', ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS ())', 'TAG OK FETCH completed']],
    ]);
    await script(viewer, [['NOOP', ['* 2 EXISTS', 'TAG OK NOOP completed']]]);
    await script(writer, [['STATUS Arrive (MESSAGES RECENT)', ['* STATUS "Arrive" (MESSAGES 2 RECENT 0)', 'TAG OK STATUS completed']]]);
  });

  it('during IDLE the claim happens when the push goes out (RFC 2177)', async () => {
    await folderWith('IdleRecent', 0);
    const a = await login();
    await script(a, [['SELECT IdleRecent', opened('SELECT', 0, 0, 1)]]);
    a.send('i IDLE');
    expect(await a.readLine()).toBe('+ idling');
    const writer = await login();
    await imapAppend(writer, 'w', 'IdleRecent', message('pushed'));
    expect(await a.readLine()).toBe('* 1 EXISTS');
    expect(await a.readLine()).toBe('* 1 RECENT');
    a.send('DONE');
    expect(await a.readLine()).toBe('i OK IDLE terminated');
    await script(a, [['FETCH 1 FLAGS', ['* 1 FETCH (FLAGS (\\Recent))', 'TAG OK FETCH completed']]]);
  });

  it('after an expunge, the next RECENT carries the lowered count', async () => {
    await folderWith('Shrink', 2);
    const a = await login();
    await script(a, [
      ['SELECT Shrink', opened('SELECT', 2, 2, 3)],
      ['STORE 1 +FLAGS.SILENT (\\Deleted)', ['TAG OK STORE completed']],
      ['EXPUNGE', ['* 1 EXPUNGE', 'TAG OK EXPUNGE completed']],
    ]);
    const b = await login();
    await script(b, [['SELECT Shrink', opened('SELECT', 1, 0, 3)]]);
    const writer = await login();
    await imapAppend(writer, 'w', 'Shrink', message('shrink-3'));
    await script(b, [['NOOP', ['* 2 EXISTS', '* 1 RECENT', 'TAG OK NOOP completed']]]);
    // a did not get the new message, but its count fell from 2 to 1 with the expunge.
    await script(a, [['NOOP', ['* 2 EXISTS', '* 1 RECENT', 'TAG OK NOOP completed']]]);
  });
});

describe('RFC 3501 §2.3.2, §6.4.6: \\Recent cannot be stored', () => {
  it.each<Row>([
    ['STORE 1 +FLAGS (\\Recent)', ['TAG BAD STORE: Invalid flag \\Recent']],
    ['STORE 1 -FLAGS (\\Recent)', ['TAG BAD STORE: Invalid flag \\Recent']],
    ['STORE 1 FLAGS (\\Recent \\Seen)', ['TAG BAD STORE: Invalid flag \\Recent']],
    // Replacing all flags leaves \Recent, which is not a stored flag.
    ['STORE 1 FLAGS (\\Seen)', ['* 1 FETCH (FLAGS (\\Seen \\Recent))', 'TAG OK STORE completed']],
    ['STORE 1 FLAGS ()', ['* 1 FETCH (FLAGS (\\Recent))', 'TAG OK STORE completed']],
  ])('%s', async (command, reply) => {
    const name = fresh('Store');
    await folderWith(name, 1);
    const c = await login();
    await c.command('s', `SELECT ${name}`);
    await script(c, [[command, reply]]);
  });
});

describe('RFC 3501 §6.3.11 APPEND, §6.4.7 COPY, RFC 6851 MOVE: arrivals are recent for the next SELECT', () => {
  it('APPEND with an old INTERNALDATE into a folder nobody looked at is still recent', async () => {
    const c = await login();
    await c.command('c', 'CREATE Dated');
    await imapAppend(c, 'a', 'Dated', message('old date'), '"01-Jan-2001 00:00:00 +0000"');
    await script(c, [
      ['STATUS Dated (RECENT)', ['* STATUS "Dated" (RECENT 1)', 'TAG OK STATUS completed']],
      ['SELECT Dated', opened('SELECT', 1, 1, 2)],
    ]);
  });

  it('COPY and MOVE: the copies are unclaimed in the target; the source keeps its claims', async () => {
    await folderWith('Source', 2);
    const c = await login();
    await c.command('c', 'CREATE Target');
    await script(c, [
      ['SELECT Source', opened('SELECT', 2, 2, 3)],
      ['COPY 1 Target', ['TAG OK [COPYUID <v> 1 1] COPY completed']],
      ['MOVE 2 Target', ['* OK [COPYUID <v> 2 2] Moved', '* 2 EXPUNGE', 'TAG OK MOVE completed']],
      ['FETCH 1 FLAGS', ['* 1 FETCH (FLAGS (\\Recent))', 'TAG OK FETCH completed']],
      ['STATUS Target (MESSAGES RECENT)', ['* STATUS "Target" (MESSAGES 2 RECENT 2)', 'TAG OK STATUS completed']],
      ['SELECT Target', opened('SELECT', 2, 2, 3)],
    ]);
  });

  it('COPY into the selected mailbox: this session is told first and claims the copy', async () => {
    await folderWith('Self', 1);
    const c = await login();
    await script(c, [
      ['SELECT Self', opened('SELECT', 1, 1, 2)],
      ['COPY 1 Self', ['* 2 EXISTS', '* 2 RECENT', 'TAG OK [COPYUID <v> 1 2] COPY completed']],
      ['SEARCH RECENT', ['* SEARCH 1 2', 'TAG OK SEARCH completed']],
    ]);
  });
});

describe('RFC 3501 §6.3.5 RENAME, §6.3.4 DELETE', () => {
  it('a renamed folder keeps its claims (same UIDVALIDITY); a re-created one starts afresh', async () => {
    await folderWith('Before', 2);
    const c = await login();
    await script(c, [
      ['SELECT Before', opened('SELECT', 2, 2, 3)],
      ['UNSELECT', ['TAG OK UNSELECT completed']],
      ['RENAME Before After', ['TAG OK RENAME completed']],
      ['STATUS After (RECENT)', ['* STATUS "After" (RECENT 0)', 'TAG OK STATUS completed']],
      ['SELECT After', opened('SELECT', 2, 0, 3)],
      ['UNSELECT', ['TAG OK UNSELECT completed']],
      ['DELETE After', ['TAG OK DELETE completed']],
      ['CREATE After', ['TAG OK [MAILBOXID <id>] CREATE completed']],
      ['STATUS After (MESSAGES RECENT)', ['* STATUS "After" (MESSAGES 0 RECENT 0)', 'TAG OK STATUS completed']],
    ]);
  });
});

// Claims across restarts of a real node process: test/store/recent-restart.test.ts.

describe('RecentRegistry (unit)', () => {
  it('first sight: INTERNALDATE before `since` is old; claims are exclusive; gaps stay unclaimed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mf-recent-unit-'));
    const store = new MailStore({ root });
    try {
      const mb = await store.openUser('unit@example.com', { epoch: 1 });
      const f = await mb.openFolder('INBOX');
      await f.append(Buffer.from(message('old')), { internalDate: new Date('2001-01-01T00:00:00Z') });
      await f.append(Buffer.from(message('new')));
      const reg = new RecentRegistry(Date.parse('2020-01-01T00:00:00Z'));
      // A folder whose index does not know the claims (older index, adopted from Dovecot): first sight decides.
      const legacy = Object.create(f, { recentUid: { value: undefined } }) as typeof f;
      const claims = reg.of(mb.address, legacy);
      expect(reg.of(mb.address, f)).toBe(claims);
      expect(claims.countUnclaimed(f)).toBe(1);
      await f.append(Buffer.from(message('third')));
      await f.append(Buffer.from(message('fourth')));
      expect(claims.countUnclaimed(f)).toBe(3);
      // A session told only about uid 4 claims it; uid 3 (skipped over) stays unclaimed.
      expect(claims.claim(f, [4])).toEqual([4]);
      expect(claims.claim(f, [4])).toEqual([]);
      expect(claims.countUnclaimed(f)).toBe(2);
      expect(claims.claim(f, [1, 2, 3, 4])).toEqual([2, 3]);
      expect(claims.countUnclaimed(f)).toBe(0);
      reg.renamed(mb.address, 'INBOX', 'Moved');
      expect(reg.size).toBe(1);
      await f.close();
      await mb.close();
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
