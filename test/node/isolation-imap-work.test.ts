import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildLargeFolder } from '../../bench/imap/build-folder';
import { LIMITS } from '../../mail-runtime/common/limits';
import { imapLogin, norm } from '../helpers/imap';
import type { LineClient } from '../helpers/line-client';
import { spawnNodeMember, type SpawnedMember } from '../helpers/node';
import { ALICE, BOB, writeUsersFile } from '../helpers/users';

/**
 * Issue 9, first finding: one UID SEARCH with 16,000 × `1:*` on a
 * 3,000-message folder blocked every session of a node for 13 s. Against a
 * real member (`mailfleet run --config`) with such a folder: commands over
 * our limits get NO [LIMIT] (RFC 5530 §3) and leave the session usable,
 * and a long command lets another user's NOOP through before it finishes.
 *
 * The ordering tests pipeline `NOOP` + the long command on the attacker's
 * connection; when the NOOP's reply arrives the server has started the long
 * command, and only then does the bystander (bob) send its NOOP. Its reply
 * must arrive before the attacker's tagged reply. No clock is read.
 */
const MESSAGES = 3000;
let dir: string;
let member: SpawnedMember;
const open: LineClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-isolation-work-'));
  await writeUsersFile(join(dir, 'users.yaml'), [ALICE, BOB]);
  // Maildir files written straight into alice's INBOX, indexed and summarised before the member starts.
  await buildLargeFolder(join(dir, 'storage'), ALICE.address, MESSAGES, () => undefined);
  member = await spawnNodeMember(dir, { memberId: 'isolation-work', cluster: 'isolation', storage: join(dir, 'storage') });
}, 120_000);
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
afterAll(async () => {
  await member?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function session(user = ALICE, select = true): Promise<LineClient> {
  const c = await imapLogin(member.imapPort, user.address, user.password);
  open.push(c);
  if (select) expect((await c.command('s', 'SELECT INBOX', 30_000)).at(-1)).toMatch(/^s OK /);
  return c;
}

/**
 * Runs `command` on alice's session and a NOOP on bob's once the command is
 * under way; returns which tagged reply arrived first and the command's lines.
 */
async function race(command: string, timeoutMs = 60_000): Promise<{ order: string[]; lines: string[] }> {
  const attacker = await session();
  const bystander = await session(BOB, false);
  const order: string[] = [];
  attacker.write(`a0 NOOP\r\na1 ${command}\r\n`);
  expect(await attacker.readUntil((l) => l.startsWith('a0 '))).toEqual(['a0 OK NOOP completed']);
  const attack = attacker.readUntil((l) => l.startsWith('a1 '), timeoutMs).then((lines) => {
    order.push('attacker');
    return lines;
  });
  const noop = bystander.command('b1', 'NOOP', timeoutMs).then((lines) => {
    order.push('bystander');
    return lines;
  });
  const [lines, noopLines] = await Promise.all([attack, noop]);
  expect(noopLines).toEqual(['b1 OK NOOP completed']);
  return { order, lines };
}

const keys = (n: number, key = '1:*'): string => Array.from({ length: n }, () => key).join(' ');

describe('commands over the work limits: NO [LIMIT], and the session goes on', () => {
  it('UID SEARCH with 16,000 × 1:* (the finding)', async () => {
    const c = await session();
    expect(await c.command('a', `UID SEARCH ${keys(16_000)}`)).toEqual([`a NO [LIMIT] UID SEARCH: More than ${LIMITS.imapSearchKeys} search keys`]);
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
  });

  it('SEARCH nested deeper than LIMITS.imapSearchDepth (a 2,000-deep OR chain)', async () => {
    const c = await session();
    expect(await c.command('a', `SEARCH ${'OR '.repeat(2000)}${keys(2001, '1')}`)).toEqual([
      `a NO [LIMIT] SEARCH: Search criteria nested more than ${LIMITS.imapSearchDepth} deep`,
    ]);
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
  });

  it('a sequence set of more than LIMITS.imapSequenceSetRanges ranges, in FETCH, STORE and SEARCH', async () => {
    const c = await session();
    const set = Array.from({ length: LIMITS.imapSequenceSetRanges + 1 }, () => '1').join(',');
    const text = `Sequence set has more than ${LIMITS.imapSequenceSetRanges} ranges`;
    expect(await c.command('a', `FETCH ${set} FLAGS`)).toEqual([`a NO [LIMIT] FETCH: ${text}`]);
    expect(await c.command('b', `UID STORE ${set} +FLAGS (x)`)).toEqual([`b NO [LIMIT] UID STORE: ${text}`]);
    expect(await c.command('c', `SEARCH UID ${set}`)).toEqual([`c NO [LIMIT] SEARCH: ${text}`]);
    expect(await c.command('d', 'NOOP')).toEqual(['d OK NOOP completed']);
  });

  it('more than LIMITS.imapListPatterns LIST patterns, and a pattern longer than a mailbox name can be', async () => {
    const c = await session(ALICE, false);
    const patterns = Array.from({ length: LIMITS.imapListPatterns + 1 }, (_, i) => `p${i}`).join(' ');
    expect(await c.command('a', `LIST "" (${patterns})`)).toEqual([`a NO [LIMIT] LIST: More than ${LIMITS.imapListPatterns} mailbox patterns`]);
    expect(await c.command('b', `LIST "" "${'*'.repeat(LIMITS.imapMailboxNameBytes + 1)}"`)).toEqual([
      `b NO [LIMIT] LIST: Mailbox reference or pattern longer than ${LIMITS.imapMailboxNameBytes} octets`,
    ]);
  });
});

describe('big but allowed work is answered correctly', () => {
  it('SEARCH with a 10,000-number set (was ~3 s of blocking) finds every message', async () => {
    const c = await session();
    const set = Array.from({ length: 10_000 }, (_, i) => String((i % MESSAGES) + 1)).join(',');
    const lines = await c.command('a', `SEARCH ${set}`, 30_000);
    expect(lines.at(-1)).toBe('a OK SEARCH completed');
    expect(lines[0]).toBe(`* SEARCH ${Array.from({ length: MESSAGES }, (_, i) => i + 1).join(' ')}`);
  });

  it('LIST with wildcards a backtracking matcher would need hours for completes (40 names of 200 × "a")', async () => {
    const c = await session(ALICE, false);
    for (let i = 0; i < 40; i++) expect(norm(await c.command('c', `CREATE "${'a'.repeat(200)}${i}"`)).at(-1)).toBe('c OK [MAILBOXID <id>] CREATE completed');
    expect(await c.command('a', `LIST "" "${'*a'.repeat(8)}*b"`, 30_000)).toEqual(['a OK LIST completed']);
    const hits = await c.command('b', `LIST "" "${'*a'.repeat(8)}*9"`, 30_000);
    expect(hits.filter((l) => l.startsWith('* LIST'))).toHaveLength(4); // …9, …19, …29, …39
  });
});

describe('a long command gives other sessions their turn (bystander NOOP answered before it ends)', () => {
  it(`SEARCH with ${LIMITS.imapSearchKeys} keys over ${MESSAGES} messages`, async () => {
    const { order, lines } = await race(`SEARCH ${keys(LIMITS.imapSearchKeys - 1)} UNSEEN`);
    expect(lines.at(-1)).toBe('a1 OK SEARCH completed');
    expect(order).toEqual(['bystander', 'attacker']);
  });
});
