import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../helpers/imap';
import type { LineClient } from '../helpers/line-client';
import { spawnNodeMember, type SpawnedMember } from '../helpers/node';
import { ALICE, BOB, writeUsersFile } from '../helpers/users';

/**
 * RFC 4314 (ACL) and RFC 2342 (NAMESPACE) against a real member process
 * over raw sockets: alice owns `Team`, bob reaches it as
 * `"Other Users/alice@example.com/Team"`. Rows are grouped by RFC section.
 */
let dir: string;
let member: SpawnedMember;
const open: LineClient[] = [];
const TEAM = '"Other Users/alice@example.com/Team"';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-acl-'));
  await writeUsersFile(join(dir, 'users.yaml'), [ALICE, BOB]);
  member = await spawnNodeMember(dir, { memberId: 'acl', cluster: 'acl' });
  const a = await login(ALICE);
  expect(await a.command('c', 'CREATE Team')).toContainEqual(expect.stringMatching(/^c OK/));
  expect((await imapAppend(a, 'p', 'Team', message('hello team'))).at(-1)).toMatch(/^p OK/);
  a.close();
}, 60_000);
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
afterAll(async () => {
  await member?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function login(u: typeof ALICE): Promise<LineClient> {
  const c = await imapLogin(member.imapPort, u.address, u.password);
  open.push(c);
  return c;
}

const last = (lines: string[]) => lines[lines.length - 1];

describe('capabilities and namespace', () => {
  it('advertises ACL and RIGHTS=texk (RFC 4314 §2.1.1, §7)', async () => {
    const c = await login(BOB);
    const caps = (await c.command('a', 'CAPABILITY'))[0];
    expect(caps).toMatch(/ ACL( |$)/);
    expect(caps).toMatch(/ RIGHTS=texk( |$)/);
  });
  it('NAMESPACE names the Other Users and Shared namespaces (RFC 2342 §5)', async () => {
    const c = await login(BOB);
    expect(await c.command('a', 'NAMESPACE')).toEqual(['* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))', 'a OK NAMESPACE completed']);
  });
});

describe('RFC 4314 §3 commands (owner)', () => {
  const rows: [string, string[]][] = [
    ['MYRIGHTS Team', ['* MYRIGHTS "Team" "lrswipkxteacd"', 'x OK MYRIGHTS completed']],
    ['GETACL Team', ['* ACL "Team" "alice@example.com" "lrswipkxteacd"', 'x OK GETACL completed']],
    ['LISTRIGHTS Team bob@example.com', ['* LISTRIGHTS "Team" "bob@example.com" "" "l" "r" "s" "w" "i" "p" "kc" "x" "t" "e" "a"', 'x OK LISTRIGHTS completed']],
    ['LISTRIGHTS Team alice@example.com', ['* LISTRIGHTS "Team" "alice@example.com" "lrswipkxteacd"', 'x OK LISTRIGHTS completed']],
    ['SETACL Team alice@example.com lr', ['x NO [CANNOT] The owner always has all rights']],
    ['SETACL Team -bob@example.com r', ['x NO [CANNOT] SETACL: Negative rights are not supported']],
    ['SETACL Team bob@example.com lr9', ['x BAD SETACL: Unknown right in "lr9" (known: lrswipkxteacd)']],
    ['SETACL Nope bob@example.com lr', ['x NO [NONEXISTENT] folder Nope does not exist']],
  ];
  it.each(rows)('%s', async (cmd, expected) => {
    const c = await login(ALICE);
    expect(await c.command('x', cmd)).toEqual(expected);
  });

  it('§2.1.1: c maps to k, d to x t e; + adds, - removes; DELETEACL removes the entry', async () => {
    const c = await login(ALICE);
    expect(await c.command('a', 'SETACL Team anyone cd')).toEqual(['a OK SETACL completed']);
    expect((await c.command('b', 'GETACL Team'))[0]).toBe('* ACL "Team" "alice@example.com" "lrswipkxteacd" "anyone" "kxtecd"');
    expect(await c.command('c', 'SETACL Team anyone -xte')).toEqual(['c OK SETACL completed']);
    expect((await c.command('d', 'GETACL Team'))[0]).toBe('* ACL "Team" "alice@example.com" "lrswipkxteacd" "anyone" "kc"');
    expect(await c.command('e', 'SETACL Team anyone +l')).toEqual(['e OK SETACL completed']);
    expect((await c.command('f', 'GETACL Team'))[0]).toBe('* ACL "Team" "alice@example.com" "lrswipkxteacd" "anyone" "lkc"');
    expect(await c.command('g', 'DELETEACL Team anyone')).toEqual(['g OK DELETEACL completed']);
    expect((await c.command('h', 'GETACL Team'))[0]).toBe('* ACL "Team" "alice@example.com" "lrswipkxteacd"');
  });
});

describe('RFC 4314 §4 enforcement (grantee)', () => {
  async function grant(rights: string): Promise<void> {
    const a = await login(ALICE);
    expect(await a.command('g', `SETACL Team bob@example.com ${rights}`)).toEqual(['g OK SETACL completed']);
    a.close();
  }

  it('no rights: the mailbox does not exist for bob (§6: nothing reveals it)', async () => {
    const b = await login(BOB);
    expect(last(await b.command('a', `SELECT ${TEAM}`))).toBe('a NO [NONEXISTENT] No such mailbox');
    expect(await b.command('b', 'LIST "" "Other Users/*"')).toEqual(['b OK LIST completed']);
    expect(last(await b.command('c', 'SELECT "Other Users/nobody@example.com/Team"'))).toBe('c NO [NONEXISTENT] No such mailbox');
  });

  it('names cannot escape the owner\'s folder tree', async () => {
    await grant('lr');
    const b = await login(BOB);
    expect(last(await b.command('a', 'SELECT "Other Users/alice@example.com/../bob@example.com/INBOX"'))).toMatch(/^a NO \[CANNOT\] Invalid mailbox name/);
    expect(last(await b.command('b', 'SELECT "Other Users/alice@example.com//Team"'))).toMatch(/^b NO \[CANNOT\] Invalid mailbox name/);
    expect(last(await b.command('c', 'SELECT "Other Users/../alice@example.com/Team"'))).toBe('c NO [NONEXISTENT] No such mailbox');
    expect(last(await b.command('d', 'SELECT "Other Users/alice@example.com/Team/.."'))).toMatch(/^d NO \[CANNOT\] Invalid mailbox name/);
  });

  it('lr: LIST shows it, SELECT is read-only, FETCH works, STORE/EXPUNGE/APPEND/CREATE/DELETE/SETACL get NOPERM', async () => {
    await grant('lr');
    const b = await login(BOB);
    expect(await b.command('a', 'LIST "" "Other Users/*"')).toEqual([
      '* LIST (\\Noselect \\HasChildren) "/" "Other Users/alice@example.com"',
      '* LIST (\\HasNoChildren) "/" "Other Users/alice@example.com/Team"',
      'a OK LIST completed',
    ]);
    expect((await b.command('m', `MYRIGHTS ${TEAM}`))[0]).toBe('* MYRIGHTS "Other Users/alice@example.com/Team" "lr"');
    expect(await b.command('s', `STATUS ${TEAM} (MESSAGES)`)).toEqual(['* STATUS "Other Users/alice@example.com/Team" (MESSAGES 1)', 's OK STATUS completed']);
    expect(last(await b.command('b', `SELECT ${TEAM}`))).toBe('b OK [READ-ONLY] SELECT completed');
    expect((await b.command('c', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).join('\n')).toContain('Subject: hello team');
    expect(last(await b.command('d', `GETACL ${TEAM}`))).toBe('d NO [NOPERM] Permission denied: GETACL needs the "a" right');
    expect(last(await b.command('e', `SETACL ${TEAM} bob@example.com lrswipkxtea`))).toBe('e NO [NOPERM] Permission denied: SETACL needs the "a" right');
    expect(last(await b.command('f', `CREATE "Other Users/alice@example.com/Team/Sub"`))).toBe('f NO [NOPERM] Permission denied: CREATE needs the "k" right');
    expect(last(await b.command('g', `DELETE ${TEAM}`))).toBe('g NO [NOPERM] Permission denied: DELETE needs the "x" right');
    expect(last(await imapAppend(b, 'h', TEAM, message('from bob')))).toBe('h NO [NOPERM] Permission denied: APPEND needs the "i" right');
    expect(last(await b.command('i', `COPY 1 ${TEAM}`))).toBe('i NO [NOPERM] Permission denied: COPY needs the "i" right');
  });

  it('lrs: \\Seen may be set; other flags need w, \\Deleted t, EXPUNGE e', async () => {
    await grant('lrs');
    const b = await login(BOB);
    expect(last(await b.command('a', `SELECT ${TEAM}`))).toBe('a OK [READ-WRITE] SELECT completed');
    expect(last(await b.command('b', 'STORE 1 +FLAGS (\\Seen)'))).toBe('b OK STORE completed');
    expect(last(await b.command('c', 'STORE 1 +FLAGS (\\Flagged)'))).toBe('c NO [NOPERM] Permission denied: STORE of these flags needs the "w" right');
    expect(last(await b.command('d', 'STORE 1 +FLAGS (\\Deleted)'))).toBe('d NO [NOPERM] Permission denied: STORE of these flags needs the "t" right');
    expect(last(await b.command('e', 'EXPUNGE'))).toBe('e NO [NOPERM] Permission denied: EXPUNGE needs the "e" right');
    expect(last(await b.command('f', 'STORE 1 -FLAGS (\\Seen)'))).toBe('f OK STORE completed');
  });

  it('lrsitek: bob appends, creates a child (inheriting the ACL) and expunges; alice sees it', async () => {
    await grant('lrsitek');
    const b = await login(BOB);
    expect(last(await imapAppend(b, 'a', TEAM, message('from bob')))).toMatch(/^a OK \[APPENDUID \d+ 2\] APPEND completed/);
    expect(last(await b.command('b', 'CREATE "Other Users/alice@example.com/Team/Sub"'))).toMatch(/^b OK/);
    expect((await b.command('c', 'MYRIGHTS "Other Users/alice@example.com/Team/Sub"'))[0]).toBe('* MYRIGHTS "Other Users/alice@example.com/Team/Sub" "lrsiktecd"');
    expect(last(await b.command('d', 'CREATE "Other Users/alice@example.com/Top"'))).toBe("d NO [NOPERM] Permission denied: CREATE of a top-level folder in another user's mailbox");
    const a = await login(ALICE);
    expect(last(await a.command('s', 'SELECT Team'))).toMatch(/^s OK/);
    expect(await b.command('e', `SELECT ${TEAM}`)).toContainEqual('* 2 EXISTS');
    expect(last(await b.command('f', 'STORE 2 +FLAGS.SILENT (\\Deleted)'))).toBe('f OK STORE completed');
    expect(await b.command('g', 'EXPUNGE')).toEqual(['* 2 EXPUNGE', 'g OK EXPUNGE completed']);
    // The owner's session learns it like from a second session of her own.
    expect(await a.command('n', 'NOOP')).toEqual(['* 2 EXPUNGE', 'n OK NOOP completed']);
    expect(last(await a.command('x', 'DELETE Team/Sub'))).toBe('x OK DELETE completed');
  });

  it('revoking removes access at once', async () => {
    await grant('lr');
    const a = await login(ALICE);
    expect(await a.command('r', 'DELETEACL Team bob@example.com')).toEqual(['r OK DELETEACL completed']);
    const b = await login(BOB);
    expect(await b.command('l', 'LIST "" %')).not.toContainEqual(expect.stringContaining('Other Users'));
    expect(last(await b.command('a', `STATUS ${TEAM} (MESSAGES)`))).toBe('a NO [NONEXISTENT] No such mailbox');
    expect(await b.command('b', 'LIST "" "Other Users/*"')).toEqual(['b OK LIST completed']);
  });
});
