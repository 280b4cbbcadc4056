import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import type { TestUser } from '../../helpers/users';

/**
 * LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and the SPECIAL-USE LIST
 * options (RFC 6154 §5.1) over a raw socket, grouped by RFC section. Each
 * row is a command and its exact reply. The mailbox trees follow the
 * examples of RFC 5258 §5; every user also has the store's special-use
 * folders (Archive, Drafts, Junk, Sent, Trash).
 */
type Row = [command: string, reply: string[]];

/** RFC 5258 §5 examples 1-8: Fruit/Tofu/Vegetable, "Fruit/Peach" subscribed but gone. */
const FRUIT: TestUser = { address: 'fruit@example.com', password: 'fruit-pw' };
/** RFC 5258 §5 example 9 (qux2 exists here: the store creates missing parents). */
const NINE: TestUser = { address: 'nine@example.com', password: 'nine-pw' };
/** RFC 6154 with a special-use folder below a plain one. */
const SPECIAL: TestUser = { address: 'special@example.com', password: 'special-pw' };
const FLOW: TestUser = { address: 'flow@example.com', password: 'flow-pw' };

let node: TestNode;
const open: LineClient[] = [];

async function login(user: TestUser): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, user.address, user.password);
  open.push(c);
  return c;
}

/** Runs setup commands that must all succeed. */
async function setup(user: TestUser, commands: string[]): Promise<LineClient> {
  const c = await login(user);
  let n = 0;
  for (const cmd of commands) {
    const tag = `s${++n}`;
    const reply = await c.command(tag, cmd);
    expect(reply[reply.length - 1], cmd).toMatch(new RegExp(`^${tag} OK `));
  }
  return c;
}

const DEFAULTS = ['Archive', 'Drafts', 'Junk', 'Sent', 'Trash'];

beforeAll(async () => {
  node = await startTestNode({ users: [FRUIT, NINE, SPECIAL, FLOW] });
  const fruit = await setup(FRUIT, [
    ...['Fruit/Apple', 'Fruit/Banana', 'Tofu', 'Vegetable/Broccoli', 'Vegetable/Corn', 'Shelf/Box'].map((f) => `CREATE ${f}`),
    // "Shelf" stays as a \Noselect parent of "Shelf/Box" (RFC 3501 §6.3.4).
    'DELETE Shelf',
    ...DEFAULTS.map((f) => `UNSUBSCRIBE ${f}`),
    ...['Fruit/Banana', 'Fruit/Peach', 'Vegetable', 'Vegetable/Broccoli', 'Ghost/Child'].map((f) => `SUBSCRIBE ${f}`),
  ]);
  expect((await imapAppend(fruit, 'a', 'Fruit/Apple', message('apple')))[1]).toMatch(/^a OK /);
  await setup(NINE, [
    ...['foo2/bar1', 'foo2/bar2', 'baz2/bar2', 'baz2/bar22', 'baz2/bar222', 'eps2/mamba', 'qux2/bar2'].map((f) => `CREATE ${f}`),
    ...DEFAULTS.map((f) => `UNSUBSCRIBE ${f}`),
    'UNSUBSCRIBE INBOX',
    ...['foo2/bar1', 'foo2/bar2', 'baz2/bar2', 'baz2/bar22', 'baz2/bar222', 'eps2', 'eps2/mamba', 'qux2/bar2'].map((f) => `SUBSCRIBE ${f}`),
  ]);
  // The special-use attribute moves with RENAME, so Sent ends up below a plain folder.
  // (The subscription moves too.) Only INBOX and Drafts stay subscribed.
  await setup(SPECIAL, ['CREATE Old', 'RENAME Sent Old/Sent', ...['Archive', 'Junk', 'Trash', 'Old/Sent'].map((f) => `UNSUBSCRIBE ${f}`)]);
  for (const c of open.splice(0)) c.close();
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function check(user: TestUser, rows: Row[]): Promise<void> {
  const c = await login(user);
  let n = 0;
  for (const [command, reply] of rows) {
    const tag = `t${++n}`;
    const got = (await c.command(tag, command)).map((l) => l.replace(new RegExp(`^${tag} `), 'TAG '));
    expect({ command, reply: got }).toEqual({ command, reply });
  }
}

const OK = 'TAG OK LIST completed';

describe('RFC 5258 §3 extended syntax: several patterns, the empty pattern', () => {
  it.each<Row>([
    // §5 example 7: a name matching several patterns is listed once.
    ['LIST "" ("INBOX" "Drafts" "Fruit/%")', ['* LIST (\\HasNoChildren) "/" "INBOX"', '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"', '* LIST (\\HasNoChildren) "/" "Fruit/Apple"', '* LIST (\\HasNoChildren) "/" "Fruit/Banana"', OK]],
    ['LIST "" (Fruit F* "Fruit/Apple")', ['* LIST (\\HasChildren) "/" "Fruit"', '* LIST (\\HasNoChildren) "/" "Fruit/Apple"', '* LIST (\\HasNoChildren) "/" "Fruit/Banana"', OK]],
    ['LIST "Fruit/" (Apple Nothing)', ['* LIST (\\HasNoChildren) "/" "Fruit/Apple"', OK]],
    // The empty pattern is not the "delimiter and root" request in the extended syntax, and is ignored for matching.
    ['LIST () "" ""', [OK]],
    ['LIST "" ("" Tofu)', ['* LIST (\\HasNoChildren) "/" "Tofu"', OK]],
    ['LIST "" "" RETURN ()', [OK]],
    // The basic syntax keeps the RFC 3501 §6.3.8 special case.
    ['LIST "" ""', ['* LIST (\\Noselect) "/" ""', OK]],
    // An option given twice counts once; REMOTE changes nothing (no remote mailboxes here).
    ['LIST (REMOTE REMOTE) "" Tofu RETURN (CHILDREN CHILDREN)', ['* LIST (\\HasNoChildren) "/" "Tofu"', OK]],
    ['LIST () "" "%" RETURN (CHILDREN)', [
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasChildren) "/" "Fruit"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\Noselect \\HasChildren) "/" "Shelf"',
      '* LIST (\\HasNoChildren) "/" "Tofu"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      '* LIST (\\HasChildren) "/" "Vegetable"',
      OK,
    ]],
  ])('%s', async (command, reply) => {
    await check(FRUIT, [[command, reply]]);
  });

  it('a bad option or a malformed command is BAD (§3: unknown options MUST be answered BAD)', async () => {
    await check(FRUIT, [
      ['LIST (FOO) "" "*"', ['TAG BAD LIST: Unsupported LIST selection option FOO']],
      ['LIST "" "*" RETURN (FOO)', ['TAG BAD LIST: Unsupported LIST return option FOO']],
      ['LIST ((SUBSCRIBED)) "" "*"', ['TAG BAD LIST: Unsupported LIST selection option (list)']],
      ['LIST "" ()', ['TAG BAD LIST: Empty mailbox pattern list']],
      ['LIST "" (Tofu (x))', ['TAG BAD LIST: Invalid mailbox pattern']],
      ['LIST "" "*" RETURN', ['TAG BAD LIST: Invalid LIST return options']],
      ['LIST "" "*" RETURN (CHILDREN) extra', ['TAG BAD LIST: Invalid LIST return options']],
      ['LIST "" "*" SUBSCRIBED', ['TAG BAD LIST: Invalid LIST return options']],
      ['LIST ()', ['TAG BAD LIST: LIST needs a reference and a mailbox pattern']],
    ]);
  });
});

describe('RFC 5258 §3.1 selection options', () => {
  it.each<Row>([
    // §5 example 2: subscribed names, existing or not, with accurate attributes.
    ['LIST (SUBSCRIBED) "" "*"', [
      '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
      '* LIST (\\NonExistent \\Subscribed) "/" "Fruit/Peach"',
      '* LIST (\\NonExistent \\Subscribed) "/" "Ghost/Child"',
      '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"',
      OK,
    ]],
    // §5 example 5: REMOTE does not change the subscribed set.
    ['LIST (REMOTE SUBSCRIBED) "" "Veg*"', ['* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"', '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"', OK]],
    // §5 example 8A: "Fruit" is not subscribed itself, so plain SUBSCRIBED does not list it.
    ['LIST (SUBSCRIBED) "" "%"', ['* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"', '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"', OK]],
    // §5 example 8 / §3.5 table: with RECURSIVEMATCH a parent is listed for a subscribed child the pattern
    // does not reach, with CHILDINFO; a parent that does not exist is \NonExistent (§3, case b).
    ['LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"', [
      '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
      '* LIST (\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\NonExistent) "/" "Ghost" ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))',
      OK,
    ]],
    // §5 example 10 a3: CHILDINFO does not imply \HasChildren.
    ['LIST (SUBSCRIBED RECURSIVEMATCH) "" Ghost RETURN (CHILDREN)', ['* LIST (\\NonExistent \\HasNoChildren) "/" "Ghost" ("CHILDINFO" ("SUBSCRIBED"))', OK]],
    ['LIST (RECURSIVEMATCH REMOTE SUBSCRIBED) "" "Fruit"', ['* LIST (\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))', OK]],
  ])('%s', async (command, reply) => {
    await check(FRUIT, [[command, reply]]);
  });

  it('RFC 5258 §5 example 9: CHILDINFO whether or not the children match the pattern; redundant parents suppressed (§3.5 SHOULD)', async () => {
    await check(NINE, [
      [
        'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"',
        [
          // baz2 and qux2 are left out: every subscribed child of theirs is listed itself.
          '* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar2"',
          '* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar22"',
          '* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar222"',
          '* LIST (\\HasChildren \\Subscribed) "/" "eps2" ("CHILDINFO" ("SUBSCRIBED"))',
          '* LIST (\\HasChildren) "/" "foo2" ("CHILDINFO" ("SUBSCRIBED"))',
          '* LIST (\\HasNoChildren \\Subscribed) "/" "foo2/bar2"',
          '* LIST (\\HasNoChildren \\Subscribed) "/" "qux2/bar2"',
          OK,
        ],
      ],
      ['LIST (SUBSCRIBED) "" "*2"', [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar2"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar22"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar222"',
        '* LIST (\\HasChildren \\Subscribed) "/" "eps2"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "foo2/bar2"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "qux2/bar2"',
        OK,
      ]],
    ]);
  });

  it.each<Row>([
    // §3.1 / §6 list-select-opts: RECURSIVEMATCH needs a base option; REMOTE is not one.
    ['LIST (RECURSIVEMATCH) "" "*"', ['TAG BAD LIST: RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE']],
    ['LIST (REMOTE RECURSIVEMATCH) "" "*"', ['TAG BAD LIST: RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE']],
  ])('%s', async (command, reply) => {
    await check(FRUIT, [[command, reply]]);
  });
});

describe('RFC 5258 §3.2 return options', () => {
  it.each<Row>([
    // §5 example 6: subscription state of every listed name; no \NonExistent names are added.
    ['LIST (REMOTE) "" "Fruit*" RETURN (SUBSCRIBED)', ['* LIST (\\HasChildren) "/" "Fruit"', '* LIST (\\HasNoChildren) "/" "Fruit/Apple"', '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"', OK]],
    ['LIST "" "Veg*" RETURN (SUBSCRIBED CHILDREN)', ['* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"', '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"', '* LIST (\\HasNoChildren) "/" "Vegetable/Corn"', OK]],
  ])('%s', async (command, reply) => {
    await check(FRUIT, [[command, reply]]);
  });
});

describe('RFC 6154 §5.1 SPECIAL-USE selection and return options', () => {
  it.each<Row>([
    ['LIST (SPECIAL-USE) "" "*"', [
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Old/Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      OK,
    ]],
    ['LIST "" "Old*" RETURN (SPECIAL-USE)', ['* LIST (\\HasChildren) "/" "Old"', '* LIST (\\HasNoChildren \\Sent) "/" "Old/Sent"', OK]],
    ['LIST (SPECIAL-USE) "" "%"', [
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      OK,
    ]],
    // SPECIAL-USE is a base option: RECURSIVEMATCH may go with it (CHILDINFO names it).
    ['LIST (SPECIAL-USE RECURSIVEMATCH) "" "O%"', ['* LIST (\\HasChildren) "/" "Old" ("CHILDINFO" ("SPECIAL-USE"))', OK]],
    // Several selection options must all hold (§3); CHILDINFO lists every one.
    ['LIST (SUBSCRIBED SPECIAL-USE) "" "*"', ['* LIST (\\HasNoChildren \\Drafts \\Subscribed) "/" "Drafts"', OK]],
    ['LIST (SPECIAL-USE SUBSCRIBED RECURSIVEMATCH) "" "%"', ['* LIST (\\HasNoChildren \\Drafts \\Subscribed) "/" "Drafts"', OK]],
  ])('%s', async (command, reply) => {
    await check(SPECIAL, [[command, reply]]);
  });

  it('CHILDINFO carries all criteria when a parent qualifies through a child meeting all of them', async () => {
    const c = await setup(SPECIAL, ['SUBSCRIBE Old/Sent']);
    try {
      await check(SPECIAL, [
        ['LIST (SPECIAL-USE SUBSCRIBED RECURSIVEMATCH) "" "%"', [
          '* LIST (\\HasNoChildren \\Drafts \\Subscribed) "/" "Drafts"',
          '* LIST (\\HasChildren) "/" "Old" ("CHILDINFO" ("SUBSCRIBED" "SPECIAL-USE"))',
          OK,
        ]],
      ]);
    } finally {
      await c.command('u', 'UNSUBSCRIBE Old/Sent');
    }
  });
});

describe('RFC 5819 LIST-STATUS', () => {
  it.each<Row>([
    // A STATUS follows the LIST response of each selectable mailbox (§2); Fruit/Apple's message is unclaimed, so RECENT 1.
    ['LIST "" ("INBOX" "Fruit*") RETURN (STATUS (MESSAGES UNSEEN RECENT))', [
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* STATUS "INBOX" (MESSAGES 0 UNSEEN 0 RECENT 0)',
      '* LIST (\\HasChildren) "/" "Fruit"',
      '* STATUS "Fruit" (MESSAGES 0 UNSEEN 0 RECENT 0)',
      '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
      '* STATUS "Fruit/Apple" (MESSAGES 1 UNSEEN 1 RECENT 1)',
      '* LIST (\\HasNoChildren) "/" "Fruit/Banana"',
      '* STATUS "Fruit/Banana" (MESSAGES 0 UNSEEN 0 RECENT 0)',
      OK,
    ]],
    // No STATUS for \Noselect or \NonExistent names (§2).
    ['LIST "" "Shelf*" RETURN (STATUS (MESSAGES))', ['* LIST (\\Noselect \\HasChildren) "/" "Shelf"', '* LIST (\\HasNoChildren) "/" "Shelf/Box"', '* STATUS "Shelf/Box" (MESSAGES 0)', OK]],
    ['LIST (SUBSCRIBED) "" "Fruit/*" RETURN (STATUS (UIDNEXT) CHILDREN)', [
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
      '* STATUS "Fruit/Banana" (UIDNEXT 1)',
      '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Fruit/Peach"',
      OK,
    ]],
    // Two STATUS options count as one with both sets of items.
    ['LIST "" Tofu RETURN (STATUS (MESSAGES) STATUS (UNSEEN MESSAGES))', ['* LIST (\\HasNoChildren) "/" "Tofu"', '* STATUS "Tofu" (MESSAGES 0 UNSEEN 0)', OK]],
    ['LIST "" Tofu RETURN (STATUS)', ['TAG BAD LIST: LIST RETURN STATUS: STATUS needs a list of items']],
    ['LIST "" Tofu RETURN (STATUS ())', ['TAG BAD LIST: LIST RETURN STATUS: STATUS needs at least one item']],
    ['LIST "" Tofu RETURN (STATUS (BOGUS))', ['TAG BAD LIST: LIST RETURN STATUS: Unknown STATUS item']],
  ])('%s', async (command, reply) => {
    await check(FRUIT, [[command, reply]]);
  });
});

describe('RFC 3501 §6.3.9 LSUB is unchanged by RFC 5258', () => {
  it.each<Row>([
    ['LSUB "" "Fruit/*"', ['* LSUB () "/" "Fruit/Banana"', '* LSUB (\\Noselect) "/" "Fruit/Peach"', 'TAG OK LSUB completed']],
    ['LSUB (SUBSCRIBED) "" "*"', ['TAG BAD LSUB: LSUB needs a reference and a mailbox pattern']],
    ['LSUB "" ("Fruit/*")', ['TAG BAD LSUB: LSUB needs a reference and a mailbox pattern']],
  ])('%s', async (command, reply) => {
    await check(FRUIT, [[command, reply]]);
  });
});

describe('CAPABILITY (RFC 5258 §3, RFC 5819 §1)', () => {
  it('advertises LIST-EXTENDED and LIST-STATUS', async () => {
    const c = await login(FRUIT);
    const caps = (await c.command('c', 'CAPABILITY'))[0].split(' ');
    expect(caps).toEqual(expect.arrayContaining(['LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE']));
  });
});

describe('imapflow uses LIST-STATUS and the extended return options', () => {
  it('list({ statusQuery }) gets STATUS inline, special-use and subscription state', async () => {
    const sent: string[] = [];
    const noop = (): void => undefined;
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: node.imapPort,
      secure: false,
      auth: { user: FLOW.address, pass: FLOW.password },
      logger: { debug: (o: { src?: string; msg?: string }) => void (o.src === 'c' && o.msg && sent.push(o.msg)), info: noop, warn: noop, error: noop },
      tls: { rejectUnauthorized: false },
    });
    await flow.connect();
    try {
      await flow.mailboxCreate('Projects');
      await flow.append('Projects', message('p1'));
      await flow.append('Projects', message('p2'), ['\\Seen']);
      await flow.mailboxUnsubscribe('Junk');
      sent.length = 0;
      const boxes = await flow.list({ statusQuery: { messages: true, unseen: true } });
      const byPath = new Map(boxes.map((b) => [b.path, b]));
      expect(byPath.get('Projects')?.status).toMatchObject({ messages: 2, unseen: 1 });
      expect(byPath.get('INBOX')?.status).toMatchObject({ messages: 0, unseen: 0 });
      expect(byPath.get('Sent')?.specialUse).toBe('\\Sent');
      expect(byPath.get('Sent')?.subscribed).toBe(true);
      expect(byPath.has('Junk')).toBe(true);
      expect(byPath.get('Junk')?.subscribed ?? false).toBe(false);
      // One LIST with the return options did it all: no STATUS or LSUB commands.
      expect(sent.filter((l) => /^\S+ (LIST|LSUB|STATUS) /.test(l))).toEqual([expect.stringMatching(/^\S+ LIST "" "\*" RETURN \(STATUS \(MESSAGES UNSEEN\) SPECIAL-USE CHILDREN SUBSCRIBED\)$/)]);
    } finally {
      await flow.logout();
    }
  });
});
