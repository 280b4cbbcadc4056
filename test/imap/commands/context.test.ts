/**
 * CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4) on a real node: the
 * session under test speaks over a raw socket (exact replies), the changes
 * it must hear about come from imapflow in a second session (and from the
 * raw session itself). `@T` stands for the tag of the command that set up
 * the kept search.
 *
 * Each test works in a folder of its own holding five messages (UIDs 1..5);
 * 2 and 4 are \Flagged.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let node: TestNode;
let flow: ImapFlow;
const open: LineClient[] = [];
let folders = 0;
beforeAll(async () => {
  node = await startTestNode();
  flow = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, logger: false, tls: { rejectUnauthorized: false } });
  flow.on('error', () => undefined); // the node going away at the end must not surface as an uncaught error
  await flow.connect();
});
afterAll(async () => {
  await flow.logout().catch(() => undefined);
  await node.dispose();
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

/** A raw session with a new folder of five messages selected; imapflow has the same folder open. */
async function selected(): Promise<{ c: LineClient; name: string }> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  open.push(c);
  const name = `ctx${++folders}`;
  expect((await c.command('c', `CREATE ${name}`)).pop()).toMatch(/^c OK/);
  for (let i = 1; i <= 5; i++) {
    const flags = i === 2 || i === 4 ? '(\\Flagged)' : '()';
    expect((await imapAppend(c, `a${i}`, name, message(`m${i}`), flags)).pop()).toMatch(/^a\d OK/);
  }
  expect((await c.command('s', `SELECT ${name}`)).pop()).toMatch(/^s OK/);
  await flow.mailboxOpen(name);
  return { c, name };
}

/** The ESEARCH update lines among a reply. */
const updates = (lines: string[]): string[] => lines.filter((l) => l.startsWith('* ESEARCH'));

describe('RFC 5267 capabilities', () => {
  it('advertises CONTEXT=SEARCH and CONTEXT=SORT', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(c);
    const [caps] = await c.command('k', 'CAPABILITY');
    expect(caps.split(' ')).toEqual(expect.arrayContaining(['CONTEXT=SEARCH', 'CONTEXT=SORT', 'ESORT', 'ESEARCH']));
    expect(flow.capabilities.has('CONTEXT=SEARCH')).toBe(true);
  });
});

describe('RFC 5267 §4.2-§4.3 SEARCH RETURN (UPDATE)', () => {
  it('flag changes by another session and by this one come as ADDTO / REMOVEFROM with position 0', async () => {
    const { c } = await selected();
    expect(await c.command('t1', 'UID SEARCH RETURN (CONTEXT UPDATE) FLAGGED')).toEqual(['* ESEARCH (TAG "t1") UID ALL 2,4', 't1 OK SEARCH completed']);
    await flow.messageFlagsAdd('1,3', ['\\Flagged'], { uid: true });
    expect(updates(await c.command('n1', 'NOOP'))).toEqual(['* ESEARCH (TAG "t1") UID ADDTO (0 1,3)']);
    // This session's own STORE changes the result too.
    const own = await c.command('n2', 'UID STORE 2 -FLAGS (\\Flagged)');
    expect(updates(own)).toEqual(['* ESEARCH (TAG "t1") UID REMOVEFROM (0 2)']);
    expect(own.pop()).toMatch(/^n2 OK/);
    // Nothing changed: nothing is sent.
    expect(await c.command('n3', 'NOOP')).toEqual(['n3 OK NOOP completed']);
  });

  it('new mail and expunges: ADDTO after EXISTS, REMOVEFROM for the expunged UID', async () => {
    const { c, name } = await selected();
    await c.command('t1', 'UID SEARCH RETURN (UPDATE) FLAGGED');
    await flow.append(name, message('m6'), ['\\Flagged']);
    const got = await c.command('n1', 'NOOP');
    expect(got.indexOf('* 6 EXISTS')).toBeGreaterThanOrEqual(0);
    expect(got.indexOf('* ESEARCH (TAG "t1") UID ADDTO (0 6)')).toBeGreaterThan(got.indexOf('* 6 EXISTS'));
    await flow.messageFlagsAdd('4', ['\\Deleted'], { uid: true });
    await flow.messageDelete('4', { uid: true });
    expect(updates(await c.command('n2', 'NOOP'))).toEqual(['* ESEARCH (TAG "t1") UID REMOVEFROM (0 4)']);
  });

  it('a sequence-number search names messages by their current numbers and leaves expunged ones to EXPUNGE', async () => {
    const { c } = await selected();
    expect(await c.command('t1', 'SEARCH RETURN (UPDATE) FLAGGED')).toEqual(['* ESEARCH (TAG "t1") ALL 2,4', 't1 OK SEARCH completed']);
    await flow.messageDelete('2', { uid: true });
    await flow.messageFlagsAdd('5', ['\\Flagged'], { uid: true });
    const got = await c.command('n1', 'NOOP');
    // UID 2 (seq 2) is gone: EXPUNGE says so; UID 5 is now seq 4.
    expect(got).toContain('* 2 EXPUNGE');
    expect(updates(got)).toEqual(['* ESEARCH (TAG "t1") ADDTO (0 4)']);
  });

  it('CANCELUPDATE stops the updates; an unknown tag is BAD', async () => {
    const { c } = await selected();
    await c.command('t1', 'UID SEARCH RETURN (UPDATE) FLAGGED');
    expect(await c.command('x1', 'CANCELUPDATE "t1"')).toEqual(['x1 OK CANCELUPDATE completed']);
    await flow.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
    expect(updates(await c.command('n1', 'NOOP'))).toEqual([]);
    expect(await c.command('x2', 'CANCELUPDATE "t1"')).toEqual(['x2 BAD CANCELUPDATE: no search kept up to date has tag "t1"']);
    expect(await c.command('x3', 'CANCELUPDATE t1')).toEqual(['x3 BAD CANCELUPDATE: CANCELUPDATE tags are quoted strings']);
  });

  it('a new SELECT ends every kept search', async () => {
    const { c, name } = await selected();
    await c.command('t1', 'UID SEARCH RETURN (UPDATE) FLAGGED');
    expect((await c.command('s2', `SELECT ${name}`)).pop()).toMatch(/^s2 OK/);
    await flow.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
    expect(updates(await c.command('n1', 'NOOP'))).toEqual([]);
    expect((await c.command('x1', 'CANCELUPDATE "t1"')).pop()).toMatch(/^x1 BAD/);
  });

  it('NOUPDATE: one kept search more than the limit is answered but not kept', async () => {
    const { c } = await selected();
    for (let i = 1; i <= 5; i++) expect((await c.command(`k${i}`, 'UID SEARCH RETURN (UPDATE) FLAGGED')).pop()).toBe(`k${i} OK SEARCH completed`);
    expect(await c.command('k6', 'UID SEARCH RETURN (UPDATE COUNT) FLAGGED')).toEqual([
      '* ESEARCH (TAG "k6") UID COUNT 2',
      'k6 OK [NOUPDATE "k6"] SEARCH completed, too many searches kept up to date',
    ]);
    await flow.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
    const got = updates(await c.command('n1', 'NOOP'));
    expect(got).toHaveLength(5);
    expect(got).not.toContain('* ESEARCH (TAG "k6") UID ADDTO (0 1)');
  });
});

describe('RFC 5267 §4.4 PARTIAL', () => {
  it.each([
    ['SEARCH RETURN (PARTIAL 2:3) ALL', ['* ESEARCH (TAG "p") PARTIAL (2:3 2:3)', 'p OK SEARCH completed']],
    ['UID SEARCH RETURN (PARTIAL 3:2 COUNT) FLAGGED', ['* ESEARCH (TAG "p") UID COUNT 2 PARTIAL (2:3 4)', 'p OK SEARCH completed']],
    ['SEARCH RETURN (PARTIAL 7:9) ALL', ['* ESEARCH (TAG "p") PARTIAL (7:9 NIL)', 'p OK SEARCH completed']],
    ['SEARCH RETURN (PARTIAL 1:2 ALL) ALL', ['p BAD SEARCH: RETURN cannot have both ALL and PARTIAL']],
    ['SEARCH RETURN (PARTIAL 0:2) ALL', ['p BAD SEARCH: PARTIAL needs a range like 1:100']],
  ])('%s', async (command, reply) => {
    const { c } = await selected();
    expect(await c.command('p', command)).toEqual(reply);
  });
});

describe('RFC 5267 §4.3 SORT RETURN (UPDATE): positions in sort order', () => {
  it('ADDTO and REMOVEFROM name the position in the sorted result', async () => {
    const { c, name } = await selected();
    expect(await c.command('t1', 'UID SORT RETURN (UPDATE) (REVERSE ARRIVAL) UTF-8 FLAGGED')).toEqual(['* ESEARCH (TAG "t1") UID ALL 4,2', 't1 OK SORT completed']);
    await flow.messageFlagsAdd('3', ['\\Flagged'], { uid: true });
    expect(updates(await c.command('n1', 'NOOP'))).toEqual(['* ESEARCH (TAG "t1") UID ADDTO (2 3)']);
    await flow.messageFlagsRemove('4', ['\\Flagged'], { uid: true });
    await flow.append(name, message('m6'), ['\\Flagged']);
    await flow.append(name, message('m7'), ['\\Flagged']);
    // Held 3,2 → 4 leaves position 1; 7 and 6 (newest first) go in at 1.
    expect(updates(await c.command('n2', 'NOOP'))).toEqual(['* ESEARCH (TAG "t1") UID REMOVEFROM (1 4) ADDTO (1 7,6)']);
    expect(await c.command('t2', 'UID SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 FLAGGED')).toEqual(['* ESEARCH (TAG "t2") UID ALL 7,6,3,2', 't2 OK SORT completed']);
  });

  it('SORT RETURN (UPDATE) with PARTIAL pages the first answer and keeps the whole result', async () => {
    const { c } = await selected();
    expect(await c.command('t1', 'UID SORT RETURN (UPDATE PARTIAL 1:1) (ARRIVAL) UTF-8 ALL')).toEqual(['* ESEARCH (TAG "t1") UID PARTIAL (1:1 1)', 't1 OK SORT completed']);
    await flow.messageDelete('3', { uid: true });
    expect(updates(await c.command('n1', 'NOOP'))).toEqual(['* ESEARCH (TAG "t1") UID REMOVEFROM (3 3)']);
  });
});
