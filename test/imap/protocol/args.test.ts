import { describe, expect, it } from 'vitest';
import {
  CommandReader,
  fetchItemName,
  fetchSetsSeen,
  filterBySequenceSet,
  formatDateTime,
  formatSequenceSet,
  parseDate,
  parseDateTime,
  parseFetchArgs,
  parseFlagList,
  parseMailboxName,
  parseSequenceSet,
  parseStoreArgs,
  resolveSequenceSet,
  sequenceSetExceeds,
  type ImapValue,
  type SequenceSet,
} from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

function args(line: string): readonly ImapValue[] {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.from(`t X ${line}\r\n`));
  const ev = r.next();
  if (ev?.type !== 'command') throw new Error(`not a command: ${JSON.stringify(ev)}`);
  return ev.command.args;
}

function set(text: string): SequenceSet & { kind: 'set' } {
  const s = parseSequenceSet(text);
  if (!s || s.kind !== 'set') throw new Error(`bad set ${text}`);
  return s;
}

describe('sequence sets (RFC 3501 §9 sequence-set)', () => {
  const rows: Array<[string, number, number[]]> = [
    ['1', 5, [1]],
    ['1:*', 3, [1, 2, 3]],
    ['*', 4, [4]],
    ['3:1', 5, [1, 2, 3]],
    ['5:*', 3, [3]],
    ['1:3,2:4,9', 10, [1, 2, 3, 4, 9]],
    ['2,4,6:8', 31, [2, 4, 6, 7, 8]],
    ['1:4294967295', 3, [1, 2, 3]],
    ['1:*', 0, []],
  ];
  for (const [text, count, expected] of rows) {
    it(`${text} over ${count} messages`, () => expect(resolveSequenceSet(set(text), count)).toEqual(expected));
  }
  it('rejects invalid sets', () => {
    for (const bad of ['', '0', '1:0', 'a', '1,,2', '1:', ':1', '4294967296', '1.5', '-1']) {
      expect(parseSequenceSet(bad), bad).toBeNull();
    }
  });
  it('parses $ (RFC 5182) only when allowed', () => {
    expect(parseSequenceSet('$')).toEqual({ kind: 'saved' });
    expect(parseSequenceSet('$', false)).toBeNull();
  });
  it('filters UIDs, * being the highest UID', () => {
    expect(filterBySequenceSet(set('5:10'), [1, 4, 5, 9, 11, 30])).toEqual([5, 9]);
    expect(filterBySequenceSet(set('28:*'), [3, 27, 28, 40])).toEqual([28, 40]);
    expect(filterBySequenceSet(set('100:*'), [3, 27])).toEqual([27]);
  });
  it('detects numbers above the message count', () => {
    expect(sequenceSetExceeds(set('1:5'), 4)).toBe(true);
    expect(sequenceSetExceeds(set('1:*'), 4)).toBe(false);
  });
  it('formats compact sets', () => expect(formatSequenceSet([1, 2, 3, 7, 9, 10])).toBe('1:3,7,9:10'));
});

describe('FETCH attributes (RFC 3501 §6.4.5)', () => {
  const names = (line: string): string[] => {
    const r = parseFetchArgs(args(line));
    if (!r.ok) throw new Error(r.error);
    return r.value.attributes.map(fetchItemName);
  };
  it('expands macros', () => {
    expect(names('ALL')).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
    expect(names('fast')).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    expect(names('FULL')).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  });
  it('parses sections and gives the reply item names', () => {
    expect(
      names('(UID BODY.PEEK[HEADER.FIELDS (From to)] BODY[]<0.100> body[1.2.MIME] BODY[2.TEXT] BODY[3] BODY.PEEK[HEADER.FIELDS.NOT (X-A)] RFC822.HEADER)'),
    ).toEqual([
      'UID',
      'BODY[HEADER.FIELDS (From to)]',
      'BODY[]<0>',
      'BODY[1.2.MIME]',
      'BODY[2.TEXT]',
      'BODY[3]',
      'BODY[HEADER.FIELDS.NOT (X-A)]',
      'RFC822.HEADER',
    ]);
  });
  it('knows which items set \\Seen', () => {
    const r = parseFetchArgs(args('(BODY[] BODY.PEEK[] RFC822 RFC822.HEADER RFC822.TEXT BINARY[1] BINARY.PEEK[1])'));
    expect(r.ok && r.value.attributes.map(fetchSetsSeen)).toEqual([true, false, true, false, true, true, false]);
  });
  it('parses BINARY (RFC 3516) and CHANGEDSINCE (RFC 7162)', () => {
    const r = parseFetchArgs(args('(BINARY.PEEK[1]<0.10> BINARY.SIZE[2] MODSEQ) (CHANGEDSINCE 12345678901234)'));
    expect(r.ok && r.value.attributes.map(fetchItemName)).toEqual(['BINARY[1]<0>', 'BINARY.SIZE[2]', 'MODSEQ']);
    expect(r.ok && r.value.changedSince).toBe(12345678901234n);
  });
  it('rejects malformed attributes', () => {
    for (const bad of ['(FOO)', 'BODY[MIME]', 'BODY[0]', 'BODY[HEADER.FIELDS]', 'BODY[HEADER.FIELDS ()]', 'BODY[]<0.0>', 'BODY[TEXT.X]', '()', 'FLAGS (FOO 1)', 'BODY[1.HEADER] x y']) {
      expect(parseFetchArgs(args(bad)).ok, bad).toBe(false);
    }
  });
});

describe('STORE arguments (RFC 3501 §6.4.6, RFC 7162 §3.1.3)', () => {
  it('parses the forms', () => {
    expect(parseStoreArgs(args('+FLAGS.SILENT (\\seen $Label1)'))).toEqual({ ok: true, value: { op: 'add', silent: true, flags: ['\\Seen', '$Label1'] } });
    expect(parseStoreArgs(args('-FLAGS \\Deleted \\Draft'))).toEqual({ ok: true, value: { op: 'remove', silent: false, flags: ['\\Deleted', '\\Draft'] } });
    expect(parseStoreArgs(args('FLAGS ()'))).toEqual({ ok: true, value: { op: 'set', silent: false, flags: [] } });
    expect(parseStoreArgs(args('(UNCHANGEDSINCE 7) FLAGS (a)'))).toEqual({ ok: true, value: { op: 'set', silent: false, flags: ['a'], unchangedSince: 7n } });
  });
  it('rejects bad forms', () => {
    for (const bad of ['FLAGS', '*FLAGS (a)', '+FLAGS (\\Recent)', '+FLAGS (\\Foo)', 'FLAGS ((a))', '(FOO 1) FLAGS (a)', '+FLAGS ("a")']) {
      expect(parseStoreArgs(args(bad)).ok, bad).toBe(false);
    }
  });
  it('flag lists drop duplicates case-insensitively', () => {
    expect(parseFlagList(args('(\\SEEN \\Seen x X)')[0])).toEqual({ ok: true, value: ['\\Seen', 'x'] });
  });
});

describe('dates (RFC 3501 §9 date, date-time)', () => {
  it('parses date', () => {
    expect(parseDate('1-Jan-2024')).toEqual({ year: 2024, month: 1, day: 1 });
    expect(parseDate(args('"01-feb-2023"')[0])).toEqual({ year: 2023, month: 2, day: 1 });
    for (const bad of ['32-Jan-2024', '29-Feb-2023', '1-Foo-2024', '1-Jan-24', '2024-01-01']) expect(parseDate(bad), bad).toBeNull();
  });
  it('parses date-time with zone', () => {
    const d = parseDateTime(args('"20-Feb-2024 12:00:00 +0200"')[0]);
    expect(d?.date.toISOString()).toBe('2024-02-20T10:00:00.000Z');
    expect(d?.offsetMinutes).toBe(120);
    expect(parseDateTime(' 1-Jan-2024 00:00:00 -0130')?.date.toISOString()).toBe('2024-01-01T01:30:00.000Z');
    for (const bad of ['01-Jan-2024 24:00:00 +0000', '01-Jan-2024 00:00:00', '01-Jan-2024 00:00:00 0000']) expect(parseDateTime(bad), bad).toBeNull();
  });
  it('formats INTERNALDATE', () => {
    expect(formatDateTime(new Date('2024-02-20T10:00:00Z'))).toBe('20-Feb-2024 10:00:00 +0000');
    expect(formatDateTime(new Date('2024-02-20T10:00:00Z'), 120)).toBe('20-Feb-2024 12:00:00 +0200');
    expect(formatDateTime(new Date('2024-01-01T01:30:00Z'), -90)).toBe('01-Jan-2024 00:00:00 -0130');
  });
});

describe('mailbox names (RFC 3501 §5.1)', () => {
  it('normalises INBOX only', () => {
    expect(parseMailboxName(args('inBox')[0])).toEqual({ name: 'INBOX', isInbox: true });
    expect(parseMailboxName(args('"Inbox"')[0])).toEqual({ name: 'INBOX', isInbox: true });
    expect(parseMailboxName(args('Inbox/Sub')[0])).toEqual({ name: 'Inbox/Sub', isInbox: false });
    expect(parseMailboxName(args('&AOQ-')[0])).toEqual({ name: '&AOQ-', isInbox: false });
    expect(parseMailboxName(args('NIL')[0])).toEqual({ name: 'NIL', isInbox: false });
    expect(parseMailboxName(args('(a)')[0])).toBeNull();
  });
});
