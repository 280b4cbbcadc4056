/**
 * The material SORT and THREAD compare (RFC 5256 §2.1 base subject, §2.2
 * sent date, §3 Message IDs, RFC 4790 i;ascii-casemap) and the paced,
 * bounded algorithms (issue 9 work bounds). The commands themselves are
 * tested over a socket in test/imap/commands/sort-thread.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  analyzeMessage,
  asciiCasemap,
  baseSubject,
  compareOctets,
  MAX_REFERENCES,
  parseMessageIds,
  parseSentDate,
  sortFieldsOf,
  type SortFields,
} from '../../../mail-runtime/imap/message';
import { formatThreads, orderedSubject, pacedSort, references, WorkBudget, WorkExceeded, type Pacer, type SortMessage } from '../../../mail-runtime/imap/sort';

const never: Pacer = { due: () => false, pause: () => Promise.resolve() };
const budget = (max = Number.MAX_SAFE_INTEGER, pacer = never): WorkBudget => new WorkBudget(pacer, max, 'TEST');

describe('RFC 5256 §2.1 base subject', () => {
  const rows: Array<[raw: string | null, base: string, replyOrForward: boolean]> = [
    [null, '', false],
    ['', '', false],
    ['Hello', 'Hello', false],
    ['Re: Hello', 'Hello', true],
    ['RE:Hello', 'Hello', true],
    ['re : Hello', 'Hello', true], // subj-refwd allows WSP before ":"
    ['Fw: Hello', 'Hello', true],
    ['FWD: Hello', 'Hello', true],
    ['Re[2]: Hello', 'Hello', true], // a blob between "re" and ":"
    ['[list] Re: Hello', 'Hello', true], // blobs before subj-refwd (step 3)
    ['Re: [list] Hello', 'Hello', true], // then the leading blob (step 4)
    ['[list]', '[list]', false], // step 4 keeps a blob that is all there is
    ['Re: Re: Fwd: Hello', 'Hello', true],
    ['Hello (fwd)', 'Hello', true], // step 2 trailer
    ['Hello (FWD)  (fwd) ', 'Hello', true],
    ['[Fwd: Re: Hello]', 'Hello', true], // step 6, then again from step 2
    ['[fwd: Hello] (fwd)', 'Hello', true],
    ['  Hello   world  ', 'Hello world', false], // step 1: runs of WSP become one space
    ['Hello\r\n\tworld', 'Hello world', false], // unfolded
    ['=?UTF-8?Q?Re=3A_=C3=A9t=C3=A9?=', 'été', true], // step 1: encoded words decoded first
    ['Rex: Hello', 'Rex: Hello', false], // not a subj-refwd
    ['Re Hello', 'Re Hello', false],
  ];
  it.each(rows)('%j → %j', (raw, base, reply) => {
    expect(baseSubject(raw)).toEqual({ subject: base, replyOrForward: reply });
  });

  it('never throws and never grows (fast-check)', () => {
    const piece = fc.oneof(fc.constantFrom('Re:', 'fwd', '[', ']', ' ', '(fwd)', '[fwd:', ':', 're', '=?utf-8?q?a?='), fc.string({ maxLength: 5 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => {
        const raw = parts.join('');
        const r = baseSubject(raw);
        expect(r.subject.length).toBeLessThanOrEqual(raw.length + 4);
        expect(r.subject).not.toMatch(/^ | $/);
      }),
    );
  });
});

describe('RFC 4790 §9.2 i;ascii-casemap, compared as octets', () => {
  it('maps only a-z', () => {
    expect(asciiCasemap('abc ÉéZz')).toBe('ABC ÉéZZ');
  });
  it('orders by UTF-8 octets (code points), not UTF-16 units', () => {
    const fffd = '\uFFFD';
    const astral = '\u{1F600}';
    expect(compareOctets(fffd, astral)).toBeLessThan(0); // UTF-16 would put the astral character first
    expect(compareOctets('A', 'B')).toBeLessThan(0);
    expect(compareOctets('AB', 'A')).toBeGreaterThan(0);
    expect(compareOctets('Z', 'É')).toBeLessThan(0);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareOctets(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
    );
  });
});

describe('RFC 5256 §2.2 sent date (RFC 5322 §3.3 and obsolete forms §4.3)', () => {
  const rows: Array<[string | null, string | null]> = [
    ['Mon, 1 Jan 2024 10:00:00 +0000', '2024-01-01T10:00:00.000Z'],
    ['1 Jan 2024 10:00:00 -0130', '2024-01-01T11:30:00.000Z'],
    ['Mon, 01 Jan 2024 10:00 GMT', '2024-01-01T10:00:00.000Z'],
    ['Mon, 1 Jan 2024 10:00:00 EST', '2024-01-01T15:00:00.000Z'],
    ['Mon, 1 Jan 24 10:00:00 +0000', '2024-01-01T10:00:00.000Z'], // two-digit year: 2000-2049
    ['Fri, 1 Jan 99 10:00:00 +0000', '1999-01-01T10:00:00.000Z'],
    ['Mon (comment), 1 Jan 2024 10:00:00 +0000 (UTC)', '2024-01-01T10:00:00.000Z'],
    ['Mon, 1 Jan 2024 10:00:00', '2024-01-01T10:00:00.000Z'], // no zone: -0000
    ['Mon, 31 Feb 2024 10:00:00 +0000', null],
    ['Mon, 1 Foo 2024 10:00:00 +0000', null],
    ['Mon, 1 Jan 2024 25:00:00 +0000', null],
    ['not a date', null],
    [null, null],
  ];
  it.each(rows)('%j', (raw, iso) => {
    const t = parseSentDate(raw);
    expect(t === null ? null : new Date(t).toISOString()).toBe(iso);
  });
});

describe('RFC 5256 §3 Message IDs', () => {
  const rows: Array<[string | null, string[]]> = [
    ['<a@b>', ['a@b']],
    [' <"01KF8JCEOCBS0045PS"@xxx.yyy.com> ', ['01KF8JCEOCBS0045PS@xxx.yyy.com']], // §3: quoting makes no difference
    ['<a@b> (comment <x@y>) <c@d>', ['a@b', 'c@d']],
    ['"phrase <x@y>" <a@b>', ['a@b']],
    ['Your message of ... <a@b>', ['a@b']], // obsolete In-Reply-To phrases
    ['<a@b\r\n >', ['a@b']],
    ['<no-at-sign> <@b> <a@> <a@b', []],
    ['<a@b@c>', []],
    [null, []],
  ];
  it.each(rows)('%j', (raw, ids) => {
    expect(parseMessageIds(raw)).toEqual(ids);
  });

  it(`keeps the last ${MAX_REFERENCES} references (the parent is the last one)`, () => {
    const refs = Array.from({ length: MAX_REFERENCES + 10 }, (_, i) => `<m${i}@x>`).join(' ');
    const s = analyzeMessage(Buffer.from(`References: ${refs}\r\nMessage-ID: <self@x>\r\n\r\nbody\r\n`)).sort;
    expect(s.references).toHaveLength(MAX_REFERENCES);
    expect(s.references.at(-1)).toBe(`m${MAX_REFERENCES + 9}@x`);
    expect(s.messageId).toBe('self@x');
  });

  it('In-Reply-To is used only without a valid References', () => {
    const a = analyzeMessage(Buffer.from('In-Reply-To: <p@x> <q@x>\r\nReferences: junk\r\n\r\n')).sort;
    expect(a.references).toEqual(['p@x']);
    const b = analyzeMessage(Buffer.from('In-Reply-To: <p@x>\r\nReferences: <r@x>\r\n\r\n')).sort;
    expect(b.references).toEqual(['r@x']);
  });
});

describe('summaries cached by an older analyzer', () => {
  it('get their sort fields from the header they kept (no message file read)', () => {
    const raw = Buffer.from('From: "Al" <al@x.example>\r\nSubject: Re: Hi\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n');
    const current = analyzeMessage(raw);
    const { sort: _dropped, ...rest } = current;
    const v1 = { ...rest, version: 1 };
    expect(sortFieldsOf(v1)).toEqual(current.sort);
    // Version 2 (the conformance analyzer) had no `sort` either.
    expect(sortFieldsOf({ ...rest, version: 2 })).toEqual(current.sort);
    expect(current.version).toBe(3);
    expect(sortFieldsOf({ ...current, sort: { subject: 'STALE' } , version: 1 })).toEqual(current.sort);
    expect(sortFieldsOf(undefined)).toBeNull();
    expect(sortFieldsOf({ version: 1 })).toBeNull();
  });
});

const FIELDS: SortFields = { subject: '', replyOrForward: false, sent: null, from: '', to: '', cc: '', displayFrom: '', displayTo: '', messageId: null, references: [] };
const message = (seq: number, fields: Partial<SortFields>): SortMessage => ({ seq, uid: seq, size: 0, arrival: 0, fields: { ...FIELDS, ...fields } });

describe('paced, bounded work (issue 9)', () => {
  it('pacedSort is a stable sort (fast-check against Array.prototype.sort)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 300 }), async (keys) => {
        const items = keys.map((k, i) => ({ k, i }));
        const want = items.slice().sort((a, b) => a.k - b.k);
        expect(await pacedSort(items, (a, b) => a.k - b.k, budget())).toEqual(want);
      }),
    );
  });

  it('gives the event loop back when the pacer says so', async () => {
    let pauses = 0;
    const pacer: Pacer = { due: () => true, pause: () => (pauses++, Promise.resolve()) };
    await pacedSort(Array.from({ length: 1000 }, (_, i) => 1000 - i), (a, b) => a - b, budget(Number.MAX_SAFE_INTEGER, pacer));
    expect(pauses).toBeGreaterThan(10);
  });

  it('stops with WorkExceeded past its budget (the command answers NO [LIMIT])', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 10_000);
    await expect(pacedSort(items, (a, b) => a - b, budget(50_000))).rejects.toBeInstanceOf(WorkExceeded);
    // A chain of 3,000 replies: each parent check walks up the chain.
    const chain = Array.from({ length: 3000 }, (_, i) => message(i + 1, { messageId: `m${i}@x`, references: i ? [`m${i - 1}@x`] : [] }));
    await expect(references(chain, budget(100_000))).rejects.toBeInstanceOf(WorkExceeded);
  });

  it('threads a 3,000-deep reply chain without recursion, in order', async () => {
    const chain = Array.from({ length: 3000 }, (_, i) => message(i + 1, { messageId: `m${i}@x`, references: i ? [`m${i - 1}@x`] : [], sent: i }));
    const text = await formatThreads(await references(chain, budget()), (m) => m.seq, budget());
    expect(text).toBe(`(${chain.map((m) => m.seq).join(' ')})`);
  });

  it('ORDEREDSUBJECT: the first message of a subject is the parent of the others', async () => {
    const msgs = [message(1, { subject: 'B', sent: 5 }), message(2, { subject: 'A', sent: 9 }), message(3, { subject: 'B', sent: 1 }), message(4, { subject: 'B', sent: 3 })];
    expect(await formatThreads(await orderedSubject(msgs, budget()), (m) => m.seq, budget())).toBe('(3 (4)(1))(2)');
  });
});
