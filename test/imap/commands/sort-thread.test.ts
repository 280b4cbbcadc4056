/**
 * SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267
 * §3) over a raw socket to a node, grouped by RFC section. Each row is a
 * command and the exact reply lines. The messages are built so that each
 * sort key gives a different order (see the comments on each row).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineClient } from '../../helpers/line-client';
import { imapAppend, imapLogin, norm } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

type Row = [command: string, reply: string[]];

let node: TestNode;
let c: LineClient;

function msg(headers: Record<string, string>, bodyBytes = 0): string {
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `${head}\r\n${'x'.repeat(bodyBytes)}\r\n`;
}

/** One message appended first and expunged, so that UID = sequence number + 1 in each folder. */
async function fill(folder: string, messages: Array<{ text: string; date: string }>): Promise<void> {
  expect(norm(await c.command('c', `CREATE ${folder}`)).at(-1)).toBe('c OK [MAILBOXID <id>] CREATE completed');
  let n = 0;
  for (const m of [{ text: msg({ Subject: 'gone' }), date: '01-Jan-2020 00:00:00 +0000' }, ...messages]) {
    const r = await imapAppend(c, `a${++n}`, folder, m.text, `"${m.date}"`);
    expect(r.at(-1)).toMatch(/^a\d+ OK /);
  }
  await c.command('s', `SELECT ${folder}`);
  expect((await c.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)')).at(-1)).toBe('d OK STORE completed');
  expect((await c.command('e', 'EXPUNGE')).at(-1)).toBe('e OK EXPUNGE completed');
}

async function script(rows: Row[]): Promise<void> {
  let n = 0;
  for (const [command, reply] of rows) {
    const tag = `t${++n}`;
    const got = (await c.command(tag, command)).map((l) => l.replace(new RegExp(`^${tag} `), 'TAG ').replace(`"${tag}"`, '"TAG"'));
    expect({ command, reply: got }).toEqual({ command, reply });
  }
}

// Sequence numbers after the expunge are 1..6 (UIDs 2..7).
const SORT_MESSAGES = [
  // 1: base subject HELLO (§2.1 steps 3-4: "Re:" then the blob), sent 2 Jan 10:00, arrival 5 Jan, from ZED, to CAROL, 5000 octets
  {
    text: msg({ From: 'Zed Zulu <zed@b.example>', To: 'carol@x.example', Subject: 'Re: [list] Hello', Date: 'Tue, 2 Jan 2024 10:00:00 +0000' }, 5000),
    date: '05-Jan-2024 00:00:00 +0000',
  },
  // 2: HELLO (§2.1 step 6, "[fwd: ...]"), sent 1 Jan, arrival 4 Jan, from AMY (no display name), to BOB, 1000 octets
  {
    text: msg({ From: 'amy@c.example', To: 'Bob <bob@x.example>', Subject: '[fwd: hello]', Date: 'Mon, 1 Jan 2024 10:00:00 +0000' }, 1000),
    date: '04-Jan-2024 00:00:00 +0000',
  },
  // 3: "été" in UTF-8 (§2.1 step 1, sorts after ASCII), Date unreadable so sent = arrival 1 Jan 2023 (§2.2), display name Émile
  {
    text: msg({ From: '=?UTF-8?Q?=C3=89mile?= <emile@d.example>', Subject: '=?UTF-8?Q?=C3=A9t=C3=A9?=', Date: 'not a date' }, 3000),
    date: '01-Jan-2023 00:00:00 +0000',
  },
  // 4: APPLE, sent 3 Jan 14:00 UTC (-0500 zone), arrival 2 Jan, from BOB, cc DAVE, smallest
  {
    text: msg({ From: 'Bob Brown <bob@a.example>', Cc: 'dave@y.example', Subject: 'apple', Date: 'Wed, 3 Jan 2024 09:00:00 -0500' }),
    date: '02-Jan-2024 00:00:00 +0000',
  },
  // 5: APPLE ("RE:" any case), sent 3 Jan 13:00 (no weekday, no seconds), arrival 3 Jan, from YAN (no name), 4000 octets
  { text: msg({ From: '<yan@e.example>', Subject: 'RE: Apple', Date: '3 Jan 2024 13:00 GMT' }, 4000), date: '03-Jan-2024 00:00:00 +0000' },
  // 6: no Subject (empty base subject), sent 4 Jan (two-digit year), arrival 6 Jan, from CARL, 2000 octets
  { text: msg({ From: 'carl@f.example', Date: 'Thu, 04 Jan 24 00:00:00 +0000' }, 2000), date: '06-Jan-2024 00:00:00 +0000' },
];

// Sequence numbers 1..9 (UIDs 2..10).
const THREAD_MESSAGES = (
  [
  { 'Message-ID': '<a@x>', Subject: 'Plan', Date: 'Mon, 1 Jan 2024 10:00:00 +0000' },
  { 'Message-ID': '<b@x>', 'In-Reply-To': '<a@x>', Subject: 'Re: Plan', Date: 'Mon, 1 Jan 2024 11:00:00 +0000' },
  { 'Message-ID': '<c@x>', References: '<a@x> <"b"@x>', Subject: 'Re: Plan', Date: 'Mon, 1 Jan 2024 12:00:00 +0000' },
  { 'Message-ID': '<d@x>', References: '<a@x>', Subject: 'Re: Plan', Date: 'Mon, 1 Jan 2024 11:30:00 +0000' },
  { 'Message-ID': '<e@x>', Subject: 'Lunch', Date: 'Mon, 1 Jan 2024 09:00:00 +0000' },
  { 'Message-ID': '<f@x>', References: '<zz@x>', Subject: 'Re: Lunch', Date: 'Mon, 1 Jan 2024 13:00:00 +0000' },
  { 'Message-ID': '<g@x>', References: '<zz@x>', Subject: 'Other', Date: 'Mon, 1 Jan 2024 14:00:00 +0000' },
  { Subject: 'Solo', Date: 'Mon, 1 Jan 2024 08:00:00 +0000' },
  { 'Message-ID': '<a@x>', Subject: 'Dup', Date: 'Mon, 1 Jan 2024 15:00:00 +0000' },
  ] as Array<Record<string, string>>
).map((h) => ({ text: msg({ From: 'x@example.org', ...h }), date: '01-Feb-2024 00:00:00 +0000' }));

beforeAll(async () => {
  node = await startTestNode({ users: [ALICE] });
  c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  await fill('S', SORT_MESSAGES);
  await fill('T', THREAD_MESSAGES);
});
afterAll(async () => {
  c?.close();
  await node?.dispose();
});

describe('CAPABILITY', () => {
  it('advertises SORT, SORT=DISPLAY, THREAD=ORDEREDSUBJECT, THREAD=REFERENCES and ESORT', async () => {
    const caps = (await c.command('c', 'CAPABILITY'))[0]!.split(' ');
    expect(caps).toEqual(expect.arrayContaining(['SORT', 'SORT=DISPLAY', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'ESORT']));
  });
});

describe('RFC 5256 §3 SORT (base subject §2.1, sent date §2.2, ties in mailbox order)', () => {
  it('each sort key, REVERSE, several keys, search keys and UID SORT', async () => {
    await c.command('s', 'SELECT S');
    await script([
      // i;unicode-casemap (RFC 5051): "été" maps to E\u0301TE\u0301, between APPLE and HELLO
      ['SORT (SUBJECT) UTF-8 ALL', ['* SORT 6 4 5 3 1 2', 'TAG OK SORT completed']],
      ['SORT (SUBJECT DATE) UTF-8 ALL', ['* SORT 6 5 4 3 2 1', 'TAG OK SORT completed']],
      ['SORT (DATE) UTF-8 ALL', ['* SORT 3 2 1 5 4 6', 'TAG OK SORT completed']],
      ['SORT (ARRIVAL) UTF-8 ALL', ['* SORT 3 4 5 2 1 6', 'TAG OK SORT completed']],
      ['SORT (REVERSE ARRIVAL) UTF-8 ALL', ['* SORT 6 1 2 5 4 3', 'TAG OK SORT completed']],
      ['SORT (FROM) UTF-8 ALL', ['* SORT 2 4 6 3 5 1', 'TAG OK SORT completed']],
      ['SORT (REVERSE FROM) UTF-8 ALL', ['* SORT 1 5 3 6 4 2', 'TAG OK SORT completed']],
      // §3: CC of messages without one is the empty string; equal keys keep mailbox order, REVERSE does not reverse that
      ['SORT (CC) UTF-8 ALL', ['* SORT 1 2 3 5 6 4', 'TAG OK SORT completed']],
      ['SORT (REVERSE CC) UTF-8 ALL', ['* SORT 4 1 2 3 5 6', 'TAG OK SORT completed']],
      ['SORT (TO) UTF-8 ALL', ['* SORT 3 4 5 6 2 1', 'TAG OK SORT completed']],
      ['SORT (SIZE) UTF-8 ALL', ['* SORT 4 2 6 3 5 1', 'TAG OK SORT completed']],
      ['sort (subject) us-ascii all', ['* SORT 6 4 5 3 1 2', 'TAG OK SORT completed']],
      ['SORT (SUBJECT) UTF-8 FROM bob', ['* SORT 4', 'TAG OK SORT completed']],
      ['SORT (DATE) UTF-8 2:4 NOT 3', ['* SORT 2 4', 'TAG OK SORT completed']],
      ['SORT (DATE) UTF-8 SUBJECT nothing-matches', ['* SORT', 'TAG OK SORT completed']],
      ['UID SORT (SUBJECT) UTF-8 ALL', ['* SORT 7 5 6 4 2 3', 'TAG OK SORT completed']],
      ['UID SORT (DATE) UTF-8 UID 3:5', ['* SORT 4 3 5', 'TAG OK SORT completed']],
    ]);
  });

  it('RFC 5957 §2 DISPLAYFROM / DISPLAYTO: the decoded display name, else the address', async () => {
    await c.command('s', 'SELECT S');
    await script([
      ['SORT (DISPLAYFROM) UTF-8 ALL', ['* SORT 2 4 6 3 5 1', 'TAG OK SORT completed']],
      ['SORT (DISPLAYTO) UTF-8 ALL', ['* SORT 3 4 5 6 2 1', 'TAG OK SORT completed']],
    ]);
  });

  it('RFC 7162 §3.1.5: MODSEQ in the search adds the highest mod-sequence', async () => {
    await c.command('s', 'SELECT S');
    const got = await c.command('m', 'SORT (SIZE) UTF-8 MODSEQ 1');
    expect(got).toEqual([expect.stringMatching(/^\* SORT 4 2 6 3 5 1 \(MODSEQ \d+\)$/), 'm OK SORT completed']);
  });

  it('errors: BAD for syntax, NO [BADCHARSET] for an unknown charset', async () => {
    await c.command('s', 'SELECT S');
    await script([
      ['SORT SUBJECT UTF-8 ALL', ['TAG BAD SORT: SORT needs a parenthesised list of sort criteria']],
      ['SORT () UTF-8 ALL', ['TAG BAD SORT: SORT needs a parenthesised list of sort criteria']],
      ['SORT (FOO) UTF-8 ALL', ['TAG BAD SORT: Unknown sort key']],
      ['SORT (REVERSE) UTF-8 ALL', ['TAG BAD SORT: REVERSE needs a sort key']],
      ['SORT (SUBJECT)', ['TAG BAD SORT: SORT needs a charset']],
      ['SORT (SUBJECT) UTF-8', ['TAG BAD SORT: SORT needs search criteria']],
      ['SORT (SUBJECT) KOI8-R ALL', ['TAG NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset']],
    ]);
    await c.command('u', 'UNSELECT');
    await script([['SORT (SUBJECT) UTF-8 ALL', ['TAG BAD SORT not allowed now: no mailbox selected']]]);
  });

  it('sorts from the cached summaries: no message file is read or parsed again', async () => {
    await c.command('s', 'SELECT S');
    const before = { ...node.store.stats };
    await script([
      ['SORT (SUBJECT FROM DATE) UTF-8 ALL', ['* SORT 6 4 5 3 2 1', 'TAG OK SORT completed']],
      // no Message-IDs: threads only by subject (§3 step 5): 1 and 2 are both replies, so a dummy holds them; 5 (a reply) goes under 4
      ['THREAD REFERENCES UTF-8 ALL', ['* THREAD (3)((2)(1))(4 5)(6)', 'TAG OK THREAD completed']],
    ]);
    expect({ reads: node.store.stats.messageReads, analyzed: node.store.stats.analyzerCalls }).toEqual({
      reads: before.messageReads,
      analyzed: before.analyzerCalls,
    });
  });
});

describe('RFC 5256 §3 THREAD', () => {
  it('REFERENCES: parents from References/In-Reply-To, dummies for missing ones, subjects gathered, siblings by sent date', async () => {
    await c.command('s', 'SELECT T');
    await script([
      // 8 (Solo) is oldest; <zz@x> is missing: a dummy holding 6 and 7, and 5 ("Lunch") joins it by subject (§3 step 5);
      // 1 has 2 (In-Reply-To) with 3 below it (References, quoting normalised) and 4; 9 repeats <a@x>: a thread of its own.
      ['THREAD REFERENCES UTF-8 ALL', ['* THREAD (8)((5)(6)(7))(1 (2 3)(4))(9)', 'TAG OK THREAD completed']],
      ['THREAD REFERENCES UTF-8 SUBJECT plan', ['* THREAD (1 (2 3)(4))', 'TAG OK THREAD completed']],
      ['UID THREAD REFERENCES UTF-8 SUBJECT plan', ['* THREAD (2 (3 4)(5))', 'TAG OK THREAD completed']],
      ['THREAD REFERENCES UTF-8 SUBJECT nothing-matches', ['* THREAD', 'TAG OK THREAD completed']],
    ]);
  });

  it('ORDEREDSUBJECT: by base subject, then sent date; threads by their first message', async () => {
    await c.command('s', 'SELECT T');
    await script([
      ['THREAD ORDEREDSUBJECT UTF-8 ALL', ['* THREAD (8)(5 6)(1 (2)(4)(3))(7)(9)', 'TAG OK THREAD completed']],
      ['UID THREAD ORDEREDSUBJECT US-ASCII 5:6', ['* THREAD (6 7)', 'TAG OK THREAD completed']],
    ]);
  });

  it('errors', async () => {
    await c.command('s', 'SELECT T');
    await script([
      ['THREAD FOO UTF-8 ALL', ['TAG BAD THREAD: Unsupported threading algorithm FOO']],
      ['THREAD REFERENCES UTF-8', ['TAG BAD THREAD: THREAD needs search criteria']],
      ['THREAD REFERENCES BIG5 ALL', ['TAG NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset']],
    ]);
  });
});

describe('RFC 5267 §3 ESORT: SORT RETURN answered with ESEARCH, lists in sort order', () => {
  it('MIN, MAX, COUNT, ALL and PARTIAL', async () => {
    await c.command('s', 'SELECT S');
    await script([
      // SIZE order is 4 2 6 3 5 1; MIN and MAX are the first and last in sort order
      ['SORT RETURN (MIN MAX COUNT) (SIZE) UTF-8 ALL', ['* ESEARCH (TAG "TAG") MIN 4 MAX 1 COUNT 6', 'TAG OK SORT completed']],
      ['SORT RETURN () (SIZE) UTF-8 ALL', ['* ESEARCH (TAG "TAG") ALL 4,2,6,3,5,1', 'TAG OK SORT completed']],
      // ascending runs become ranges, the order is kept
      ['SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL', ['* ESEARCH (TAG "TAG") ALL 3:5,2,1,6', 'TAG OK SORT completed']],
      ['UID SORT RETURN (ALL COUNT) (ARRIVAL) UTF-8 ALL', ['* ESEARCH (TAG "TAG") UID COUNT 6 ALL 4:6,3,2,7', 'TAG OK SORT completed']],
      ['SORT RETURN (COUNT MIN) (SIZE) UTF-8 SUBJECT nothing-matches', ['* ESEARCH (TAG "TAG") COUNT 0', 'TAG OK SORT completed']],
      ['SORT RETURN (MIN) (SIZE) UTF-8 SUBJECT nothing-matches', ['* ESEARCH (TAG "TAG")', 'TAG OK SORT completed']],
      // RFC 5267 §4.4 PARTIAL: positions in the sorted result
      ['SORT RETURN (PARTIAL 2:4) (SIZE) UTF-8 ALL', ['* ESEARCH (TAG "TAG") PARTIAL (2:4 2,6,3)', 'TAG OK SORT completed']],
      ['SORT RETURN (PARTIAL 4:2 COUNT) (ARRIVAL) UTF-8 ALL', ['* ESEARCH (TAG "TAG") COUNT 6 PARTIAL (2:4 4:5,2)', 'TAG OK SORT completed']],
      ['SORT RETURN (PARTIAL 7:9) (SIZE) UTF-8 ALL', ['* ESEARCH (TAG "TAG") PARTIAL (7:9 NIL)', 'TAG OK SORT completed']],
      ['SORT RETURN (ALL PARTIAL 1:2) (SIZE) UTF-8 ALL', ['TAG BAD SORT: RETURN cannot have both ALL and PARTIAL']],
      ['SORT RETURN (PARTIAL 0:2) (SIZE) UTF-8 ALL', ['TAG BAD SORT: PARTIAL needs a range like 1:100']],
      ['SORT RETURN (SAVE) (SIZE) UTF-8 ALL', ['TAG BAD SORT: Unsupported RETURN option SAVE']],
      ['SORT RETURN MIN (SIZE) UTF-8 ALL', ['TAG BAD SORT: RETURN needs a parenthesised list of return options']],
    ]);
  });
});
