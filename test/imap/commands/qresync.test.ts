/**
 * QRESYNC (RFC 7162 §3.2) over raw sockets to a node: ENABLE, SELECT
 * (QRESYNC ...), UID FETCH (CHANGEDSINCE n VANISHED), VANISHED instead of
 * EXPUNGE, [CLOSED]; and the expunge record surviving a restart of the node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineClient } from '../../helpers/line-client';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let dir: string;
let node: TestNode;
const open: LineClient[] = [];

async function login(): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  open.push(c);
  return c;
}

function field(lines: string[], re: RegExp): number {
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error(`${re} not in ${lines.join(' / ')}`);
}

let uidValidity = 0;
let before = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-qresync-'));
  node = await startTestNode({ users: [ALICE], dir });
  const b = await login();
  await b.command('c', 'CREATE Q');
  for (let i = 1; i <= 6; i++) expect((await imapAppend(b, `a${i}`, 'Q', message(`m${i}`))).at(-1)).toMatch(/OK/);
  const sel = await b.command('s', 'SELECT Q');
  uidValidity = field(sel, /UIDVALIDITY (\d+)/);
  before = field(sel, /HIGHESTMODSEQ (\d+)/);
  // After `before`: 2 is seen, 3 and 4 are expunged.
  await b.command('f', 'STORE 2 +FLAGS.SILENT (\\Seen)');
  await b.command('d', 'STORE 3:4 +FLAGS.SILENT (\\Deleted)');
  expect((await b.command('e', 'EXPUNGE')).at(-1)).toBe('e OK EXPUNGE completed');
  b.close();
});
afterAll(async () => {
  for (const c of open) c.close();
  await node?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const FLAGS_2 = (tag = 'OK') => [expect.stringMatching(/^\* 2 FETCH \(FLAGS \(\\Seen\) UID 2 MODSEQ \(\d+\)\)$/), expect.stringMatching(new RegExp(`^s ${tag}`))];

describe('RFC 7162 §3.2.3 ENABLE QRESYNC', () => {
  it('is enabled (and implies CONDSTORE); the capability is advertised', async () => {
    const a = await login();
    expect((await a.command('c', 'CAPABILITY'))[0]).toMatch(/ CONDSTORE QRESYNC /);
    expect(await a.command('e', 'ENABLE QRESYNC')).toEqual(['* ENABLED QRESYNC', 'e OK ENABLE completed']);
    const sel = await a.command('s', 'SELECT Q');
    expect(sel).toContain(`* OK [HIGHESTMODSEQ ${field(sel, /HIGHESTMODSEQ (\d+)/)}] Highest`);
  });
});

describe('RFC 7162 §3.2.5 SELECT (QRESYNC (uidvalidity modseq [known-uids]))', () => {
  it('reports the UIDs expunged since the mod-sequence, then the flag changes', async () => {
    const a = await login();
    await a.command('e', 'ENABLE QRESYNC');
    const sel = await a.command('s', `SELECT Q (QRESYNC (${uidValidity} ${before}))`);
    expect(sel.slice(-3)).toEqual(['* VANISHED (EARLIER) 3:4', ...FLAGS_2('OK \\[READ-WRITE\\]')]);
  });

  it('known-uids narrows both; a different UIDVALIDITY gets neither; EXAMINE too', async () => {
    const a = await login();
    await a.command('e', 'ENABLE QRESYNC');
    let sel = await a.command('s', `SELECT Q (QRESYNC (${uidValidity} ${before} 1:3))`);
    expect(sel.slice(-3)).toEqual(['* VANISHED (EARLIER) 3', ...FLAGS_2('OK \\[READ-WRITE\\]')]);
    sel = await a.command('s', `SELECT Q (QRESYNC (${uidValidity} ${before} 4:6 (1:2 1:2)))`);
    expect(sel.filter((l) => /VANISHED|FETCH/.test(l))).toEqual(['* VANISHED (EARLIER) 4']);
    sel = await a.command('s', `EXAMINE Q (QRESYNC (${uidValidity + 1} ${before}))`);
    expect(sel.filter((l) => /VANISHED|FETCH/.test(l))).toEqual([]);
    expect(sel.at(-1)).toMatch(/^s OK \[READ-ONLY\]/);
  });

  it('§3.2.11: re-selecting sends [CLOSED] first', async () => {
    const a = await login();
    await a.command('e', 'ENABLE QRESYNC');
    await a.command('s', 'SELECT Q');
    const sel = await a.command('t', 'SELECT INBOX');
    expect(sel[0]).toBe('* OK [CLOSED] Previous mailbox closed');
  });

  it('errors: BAD without ENABLE QRESYNC, BAD for a malformed parameter', async () => {
    const b = await login();
    expect(await b.command('s', `SELECT Q (QRESYNC (${uidValidity} ${before}))`)).toEqual(['s BAD QRESYNC parameter needs ENABLE QRESYNC first']);
    await b.command('e', 'ENABLE QRESYNC');
    expect(await b.command('s', 'SELECT Q (QRESYNC (1))')).toEqual(['s BAD SELECT: QRESYNC needs (uidvalidity modseq [known-uids [seq-match-data]])']);
    expect(await b.command('s', 'SELECT Q (QRESYNC (0 1))')).toEqual(['s BAD SELECT: QRESYNC needs a UIDVALIDITY']);
  });
});

describe('RFC 7162 §3.2.6 UID FETCH (CHANGEDSINCE n VANISHED)', () => {
  it('VANISHED (EARLIER) for the named UIDs, then the changed messages', async () => {
    const a = await login();
    await a.command('e', 'ENABLE QRESYNC');
    await a.command('s', 'SELECT Q');
    expect(await a.command('f', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${before} VANISHED)`)).toEqual([
      '* VANISHED (EARLIER) 3:4',
      expect.stringMatching(/^\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/),
      'f OK FETCH completed',
    ]);
    expect((await a.command('f', `UID FETCH 4:6 (FLAGS) (CHANGEDSINCE ${before} VANISHED)`))[0]).toBe('* VANISHED (EARLIER) 4');
    expect(await a.command('f', `FETCH 1 (FLAGS) (CHANGEDSINCE ${before} VANISHED)`)).toEqual(['f BAD FETCH: VANISHED is only allowed with UID FETCH']);
    const b = await login();
    await b.command('s', 'SELECT Q');
    expect(await b.command('f', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${before} VANISHED)`)).toEqual(['f BAD UID FETCH: VANISHED needs ENABLE QRESYNC first']);
  });
});

describe('RFC 7162 §3.2.10 VANISHED instead of EXPUNGE', () => {
  it('a QRESYNC session is told `* VANISHED uids`; others still get EXPUNGE', async () => {
    const a = await login();
    await a.command('e', 'ENABLE QRESYNC');
    await a.command('s', 'SELECT Q');
    const b = await login();
    await b.command('s', 'SELECT Q');
    await b.command('d', 'STORE 3:4 +FLAGS.SILENT (\\Deleted)'); // UIDs 5 and 6
    expect(await b.command('e', 'EXPUNGE')).toEqual(['* 3 EXPUNGE', '* 3 EXPUNGE', 'e OK EXPUNGE completed']);
    expect(await a.command('n', 'NOOP')).toEqual(['* VANISHED 5:6', 'n OK NOOP completed']);
  });
});

describe('the expunge record is kept with the folder index', () => {
  it('survives a restart of the node', async () => {
    await node.dispose(); // keeps `dir` (given by the test)
    node = await startTestNode({ users: [ALICE], dir });
    const a = await login();
    await a.command('e', 'ENABLE QRESYNC');
    const sel = await a.command('s', `SELECT Q (QRESYNC (${uidValidity} ${before}))`);
    // UIDs 5 and 6 were expunged by the test above; \Recent was claimed before the restart and is kept (store README "\Recent").
    expect(sel.slice(-3)).toEqual([
      '* VANISHED (EARLIER) 3:6',
      expect.stringMatching(/^\* 2 FETCH \(FLAGS \(\\Seen\) UID 2 MODSEQ \(\d+\)\)$/),
      's OK [READ-WRITE] SELECT completed',
    ]);
  });
});
