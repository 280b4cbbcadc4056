/**
 * ESEARCH (RFC 4731) and SEARCHRES (RFC 5182) on a real node over a raw
 * socket. Each row is a command and its exact reply; `@T` stands for the
 * command's tag wherever it appears (ESEARCH echoes it in `(TAG "...")`).
 *
 * Every test works in a folder of its own holding five messages (UIDs
 * 1..5); 2 and 4 are \Flagged.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

type Row = [command: string, reply: unknown[]];

let node: TestNode;
const open: LineClient[] = [];
let folders = 0;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

/** A session with a new folder of five messages selected. */
async function selected(): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  open.push(c);
  const name = `es${++folders}`;
  expect((await c.command('c', `CREATE ${name}`)).pop()).toMatch(/^c OK/);
  for (let i = 1; i <= 5; i++) {
    const flags = i === 2 || i === 4 ? '(\\Flagged)' : '()';
    expect((await imapAppend(c, `a${i}`, name, message(`m${i}`), flags)).pop()).toMatch(/^a\d OK/);
  }
  expect((await c.command('s', `SELECT ${name}`)).pop()).toMatch(/^s OK/);
  return c;
}

async function script(c: LineClient, rows: Row[]): Promise<void> {
  let n = 0;
  for (const [command, reply] of rows) {
    const tag = `t${++n}`;
    const got = await c.command(tag, command);
    const want = reply.map((l) => (typeof l === 'string' ? l.replaceAll('@T', tag) : l));
    expect({ command, reply: got }).toEqual({ command, reply: want });
  }
}

describe('RFC 4731 §3.1 SEARCH RETURN', () => {
  it.each<Row>([
    ['SEARCH RETURN (MIN MAX ALL COUNT) FLAGGED', ['* ESEARCH (TAG "@T") MIN 2 MAX 4 ALL 2,4 COUNT 2', '@T OK SEARCH completed']],
    ['SEARCH RETURN (COUNT MIN) UNFLAGGED', ['* ESEARCH (TAG "@T") MIN 1 COUNT 3', '@T OK SEARCH completed']],
    ['SEARCH RETURN () ALL', ['* ESEARCH (TAG "@T") ALL 1:5', '@T OK SEARCH completed']],
    ['SEARCH RETURN (ALL) 2:4 NOT 3', ['* ESEARCH (TAG "@T") ALL 2,4', '@T OK SEARCH completed']],
    ['UID SEARCH RETURN (ALL MAX) UID 3:*', ['* ESEARCH (TAG "@T") UID MAX 5 ALL 3:5', '@T OK SEARCH completed']],
    ['UID SEARCH RETURN (COUNT) KEYWORD nothing', ['* ESEARCH (TAG "@T") UID COUNT 0', '@T OK SEARCH completed']],
    ['SEARCH RETURN (MIN MAX ALL) KEYWORD nothing', ['* ESEARCH (TAG "@T")', '@T OK SEARCH completed']],
    ['SEARCH RETURN (MAX) MODSEQ 1', [expect.stringMatching(/^\* ESEARCH \(TAG "t1"\) MAX 5 MODSEQ \d+$/), '@T OK SEARCH completed']],
    ['SEARCH RETURN (BOGUS) ALL', ['@T BAD SEARCH: Unknown RETURN option']],
    ['SEARCH RETURN (MIN) CHARSET KOI8-R ALL', ['@T NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset']],
    ['SEARCH FLAGGED', ['* SEARCH 2 4', '@T OK SEARCH completed']],
  ])('%s', async (command, reply) => {
    await script(await selected(), [[command, reply]]);
  });

  it('MODSEQ (RFC 7162 §3.1.5) is the highest of the messages the result names', async () => {
    const c = await selected();
    await c.command('f', 'STORE 1 +FLAGS (\\Seen)');
    const [all] = await c.command('a', 'SEARCH RETURN (ALL) MODSEQ 1');
    const [max] = await c.command('b', 'SEARCH RETURN (MAX) MODSEQ 1');
    const highestAll = Number(/MODSEQ (\d+)$/.exec(all)?.[1]);
    const highestMax = Number(/MODSEQ (\d+)$/.exec(max)?.[1]);
    // Message 1 was changed last: ALL names it, MAX (message 5) does not.
    expect(highestAll).toBeGreaterThan(highestMax);
  });
});

describe('RFC 5182 SEARCHRES: SAVE and $', () => {
  it('SAVE alone sends no ESEARCH (§2.1); $ then names the result in FETCH, UID FETCH, SEARCH, STORE, COPY', async () => {
    const c = await selected();
    await script(c, [
      ['SEARCH RETURN (SAVE) FLAGGED', ['@T OK SEARCH completed, result saved']],
      ['FETCH $ (UID)', ['* 2 FETCH (UID 2)', '* 4 FETCH (UID 4)', '@T OK FETCH completed']],
      ['UID FETCH $ (FLAGS)', ['* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))', '* 4 FETCH (UID 4 FLAGS (\\Flagged \\Recent))', '@T OK FETCH completed']],
      ['SEARCH $', ['* SEARCH 2 4', '@T OK SEARCH completed']],
      ['UID SEARCH UID $', ['* SEARCH 2 4', '@T OK SEARCH completed']],
      ['SEARCH NOT $', ['* SEARCH 1 3 5', '@T OK SEARCH completed']],
      ['STORE $ +FLAGS.SILENT (\\Seen)', ['@T OK STORE completed']],
      ['SEARCH SEEN', ['* SEARCH 2 4', '@T OK SEARCH completed']],
      ['COPY $ INBOX', [expect.stringMatching(/^t\d+ OK \[COPYUID \d+ 2,4 \d+:\d+\] COPY completed$/)]],
      ['FETCH $,1 (UID)', ['@T BAD FETCH: Invalid sequence set']],
    ]);
  });

  it('SAVE with ESEARCH options returns them too; with MIN/MAX only it saves just those (§2.4)', async () => {
    const c = await selected();
    await script(c, [
      ['SEARCH RETURN (SAVE COUNT) UNFLAGGED', ['* ESEARCH (TAG "@T") COUNT 3', '@T OK SEARCH completed, result saved']],
      ['SEARCH $', ['* SEARCH 1 3 5', '@T OK SEARCH completed']],
      ['SEARCH RETURN (SAVE MIN MAX) ALL', ['* ESEARCH (TAG "@T") MIN 1 MAX 5', '@T OK SEARCH completed, result saved']],
      ['SEARCH $', ['* SEARCH 1 5', '@T OK SEARCH completed']],
      ['UID SEARCH RETURN (SAVE MIN) FLAGGED', ['* ESEARCH (TAG "@T") UID MIN 2', '@T OK SEARCH completed, result saved']],
      ['FETCH $ (UID)', ['* 2 FETCH (UID 2)', '@T OK FETCH completed']],
    ]);
  });

  it('a SAVE refines the previous $ (§2.1: $ is read before it is replaced)', async () => {
    const c = await selected();
    await script(c, [
      ['SEARCH RETURN (SAVE) 1:4', ['@T OK SEARCH completed, result saved']],
      ['SEARCH RETURN (SAVE) $ UNFLAGGED', ['@T OK SEARCH completed, result saved']],
      ['SEARCH $', ['* SEARCH 1 3', '@T OK SEARCH completed']],
    ]);
  });

  it('a failed SEARCH with SAVE empties $ (§2.1)', async () => {
    const c = await selected();
    await script(c, [
      ['SEARCH RETURN (SAVE) FLAGGED', ['@T OK SEARCH completed, result saved']],
      ['SEARCH RETURN (SAVE) NOSUCHKEY', ['@T BAD SEARCH: Unknown search key NOSUCHKEY']],
      ['SEARCH $', ['* SEARCH', '@T OK SEARCH completed']],
      ['SEARCH RETURN (SAVE) FLAGGED', ['@T OK SEARCH completed, result saved']],
      ['SEARCH RETURN (SAVE) CHARSET KOI8-R ALL', ['@T NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset']],
      ['FETCH $ (UID)', ['@T OK FETCH completed']],
    ]);
  });

  it('expunged messages leave $ (§2.1); SELECT empties it', async () => {
    const c = await selected();
    await script(c, [
      ['SEARCH RETURN (SAVE) ALL', ['@T OK SEARCH completed, result saved']],
      ['STORE 2 +FLAGS.SILENT (\\Deleted)', ['@T OK STORE completed']],
      ['EXPUNGE', ['* 2 EXPUNGE', '@T OK EXPUNGE completed']],
      ['FETCH $ (UID)', ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)', '* 4 FETCH (UID 5)', '@T OK FETCH completed']],
      ['STORE 1 +FLAGS.SILENT (\\Deleted)', ['@T OK STORE completed']],
      ['SEARCH RETURN (SAVE) 1:2', ['@T OK SEARCH completed, result saved']],
      ['UID EXPUNGE $', ['* 1 EXPUNGE', '@T OK EXPUNGE completed']],
      ['FETCH $ (UID)', ['* 1 FETCH (UID 3)', '@T OK FETCH completed']],
    ]);
    expect((await c.command('s', 'SELECT INBOX')).pop()).toMatch(/^s OK \[READ-WRITE\]/);
    await script(c, [['SEARCH $', ['* SEARCH', '@T OK SEARCH completed']]]);
  });
});
