import { describe, expect, it } from 'vitest';
import { analyzeMessage, needsSummary, renderFetchItem } from '../../../mail-runtime/imap/message';
import { CommandReader, compileValue, parseFetchArgs, type FetchAttribute } from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

function attr(item: string): FetchAttribute {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.from(`t FETCH 1 (${item})\r\n`));
  const ev = r.next();
  if (ev?.type !== 'command') throw new Error(item);
  const p = parseFetchArgs(ev.command.args.slice(1));
  if (!p.ok) throw new Error(p.error);
  return p.value.attributes[0];
}

const inner = 'From: a@b.c\r\nSubject: in\r\n\r\ninner body\r\n';
const raw = Buffer.from(
  'From: x@y.z\r\nSubject: outer\r\nX-A: 1\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n' +
    `Content-Type: message/rfc822\r\n\r\n${inner}--b--\r\nepilogue\r\n`,
);
const summary = analyzeMessage(raw);

function fetch(item: string, withRaw = true): string {
  const r = renderFetchItem(attr(item), summary, withRaw ? raw : undefined);
  if (!r) return 'null';
  return `${compileValue(r[0]).toString()} ${compileValue(r[1]).toString()}`;
}

// RFC 3501 §6.4.5 section numbering; each row: item → exact reply bytes.
const TABLE: Array<[string, string]> = [
  ['BODY[1]', 'BODY[1] {5}\r\nhello'],
  ['BODY[1.MIME]', 'BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n'],
  // The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1).
  ['BODY[2]', `BODY[2] {${inner.length - 2}}\r\n${inner.slice(0, -2)}`],
  ['BODY[2.HEADER]', 'BODY[2.HEADER] {28}\r\nFrom: a@b.c\r\nSubject: in\r\n\r\n'],
  ['BODY[2.TEXT]', 'BODY[2.TEXT] {10}\r\ninner body'],
  ['BODY[2.1]', 'BODY[2.1] {10}\r\ninner body'],
  ['BODY[2.HEADER.FIELDS (subject)]', 'BODY[2.HEADER.FIELDS (subject)] {15}\r\nSubject: in\r\n\r\n'],
  ['BODY[HEADER.FIELDS.NOT (FROM CONTENT-TYPE)]', 'BODY[HEADER.FIELDS.NOT (FROM CONTENT-TYPE)] {26}\r\nSubject: outer\r\nX-A: 1\r\n\r\n'],
  ['BODY[3]', 'BODY[3] NIL'],
  ['BODY[1.HEADER]', 'BODY[1.HEADER] NIL'],
  ['BODY[1.1]', 'BODY[1.1] NIL'],
  ['BODY[]<6.3>', 'BODY[]<6> {3}\r\nx@y'],
  ['BODY[]<100000>', 'BODY[]<100000> {0}\r\n'],
  ['RFC822.SIZE', `RFC822.SIZE ${raw.length}`],
  ['FLAGS', 'null'],
];

describe('BODY[section] (RFC 3501 §6.4.5)', () => {
  for (const [item, expected] of TABLE) it(item, () => expect(fetch(item)).toBe(expected));

  it('serves ENVELOPE, BODYSTRUCTURE and top-level headers without the raw message', () => {
    expect(fetch('ENVELOPE', false)).toContain('"outer"');
    expect(fetch('BODYSTRUCTURE', false)).toContain('"message" "rfc822"');
    expect(fetch('BODY.PEEK[HEADER.FIELDS (X-A)]', false)).toBe('BODY[HEADER.FIELDS (X-A)] {10}\r\nX-A: 1\r\n\r\n');
    expect(() => fetch('BODY[1]', false)).toThrow();
  });

  it('serves BODY[], RFC822 and BINARY[] from the raw bytes alone, byte for byte as with the summary', () => {
    const rawOnly = ['BODY[]', 'BODY.PEEK[]', 'BODY[]<6.3>', 'BODY.PEEK[]<100000>', 'RFC822', 'RFC822.SIZE', 'BINARY[]', 'BINARY.PEEK[]<2.5>', 'BINARY.SIZE[]'];
    const nul = Buffer.from('Subject: n\r\n\r\na\0b\r\n');
    for (const item of rawOnly) {
      expect(needsSummary(attr(item)), item).toBe(false);
      for (const bytes of [raw, nul]) {
        const withSummary = renderFetchItem(attr(item), analyzeMessage(bytes), bytes)!;
        const without = renderFetchItem(attr(item), undefined, bytes)!;
        expect(Buffer.concat([compileValue(without[0]), compileValue(without[1])]).equals(Buffer.concat([compileValue(withSummary[0]), compileValue(withSummary[1])])), item).toBe(true);
      }
    }
    for (const item of ['BODY[1]', 'BODY[TEXT]', 'BODY.PEEK[HEADER]', 'RFC822.HEADER', 'RFC822.TEXT', 'ENVELOPE', 'BODYSTRUCTURE', 'BINARY[1]', 'BINARY.SIZE[1]', 'THREADID']) {
      expect(needsSummary(attr(item)), item).toBe(true);
      expect(() => renderFetchItem(attr(item), undefined, raw), item).toThrow();
    }
  });

  it('handles LF-only messages and messages without a body', () => {
    const lf = analyzeMessage(Buffer.from('Subject: a\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nx\n--q--\n'));
    expect(lf.root.parts?.length).toBe(1);
    expect(lf.root.parts?.[0].bodyEnd).toBe(lf.root.parts?.[0].bodyStart ? lf.root.parts[0].bodyStart + 1 : -1);
    const none = analyzeMessage(Buffer.from('Subject: only a header'));
    expect(none.root.bodyStart).toBe(none.size);
    expect(none.envelope.subject).toBe('only a header');
  });
});

/** Renders one item of a message given as text (CRLF). */
function fetchOf(message: string, item: string): string {
  const bytes = Buffer.from(message);
  const r = renderFetchItem(attr(item), analyzeMessage(bytes), bytes);
  return r ? `${compileValue(r[0]).toString()} ${compileValue(r[1]).toString()}` : 'null';
}

/** `NAME {n}\r\nbytes`, the literal form of one item. */
const lit = (name: string, bytes: string): string => `${name} {${Buffer.byteLength(bytes)}}\r\n${bytes}`;

const nested =
  'Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nplain\r\n--i--\r\n--o\r\n' +
  'Content-Type: message/rfc822\r\n\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\nm1\r\n--m--  \r\n--o\r\n' +
  'Content-Type: text/plain\r\n\r\n--o\r\nContent-Type: text/plain\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: t\r\n\r\n--o--\r\n';

describe('RFC 2046 §5.1.1 part extents next to boundaries (as Dovecot 2.3 reports them, test/fixtures/imap-golden-extra)', () => {
  it.each<[string, string]>([
    // A nested close delimiter keeps its line break; the outer boundary's own line break was that one.
    ['BODY[1]', lit('BODY[1]', '--i\r\n\r\nplain\r\n--i--\r\n')],
    ['BODY[1.1]', lit('BODY[1.1]', 'plain')],
    // The same inside a message/rfc822 part, with transport padding after the close delimiter.
    ['BODY[2.TEXT]', lit('BODY[2.TEXT]', '--m\r\n\r\nm1\r\n--m--  \r\n')],
    ['BODY[2]', lit('BODY[2]', 'Subject: s\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\nm1\r\n--m--  \r\n')],
    // An empty body: the header's blank line is the boundary's line break, so MIME ends before it.
    ['BODY[3.MIME]', lit('BODY[3.MIME]', 'Content-Type: text/plain\r\n')],
    ['BODY[3]', lit('BODY[3]', '')],
    // No blank line at all: the header ends before the line break of the boundary.
    ['BODY[4.MIME]', lit('BODY[4.MIME]', 'Content-Type: text/plain')],
    // A message/rfc822 part keeps its message's whole header; that message's HEADER does not.
    ['BODY[5]', lit('BODY[5]', 'Subject: t\r\n\r\n')],
    ['BODY[5.HEADER]', lit('BODY[5.HEADER]', 'Subject: t\r\n')],
    ['BODY[5.TEXT]', lit('BODY[5.TEXT]', '')],
  ])('%s', (item, expected) => expect(fetchOf(nested, item)).toBe(expected));
});

const edges =
  'Content-Type: multipart/mixed; boundary=e\r\n\r\npreamble\r\n\r\n--e\r\nContent-Type: text/plain\r\n\r\ntwo blank lines follow\r\n\r\n\r\n--e\r\n\r\n\r\n' +
  '--e\r\nContent-Type: multipart/mixed; boundary=u\r\n\r\n--u\r\n\r\nnever closed\r\n--e\r\nContent-Type: text/plain\r\n\r\nlast\r\n--e--\r\nepilogue\r\n';

describe('RFC 2046 §5.1.1 part extents: preamble, epilogue, blank lines, header-only parts, an inner multipart never closed (as Dovecot 2.3.19.1 answers them)', () => {
  it.each<[string, string]>([
    // The preamble and the epilogue belong to the multipart's body (TEXT), to none of its parts.
    ['BODY[TEXT]', lit('BODY[TEXT]', edges.slice(edges.indexOf('preamble')))],
    // Only the last line break before a boundary is the boundary's: blank lines before it stay in the part.
    ['BODY[1]', lit('BODY[1]', 'two blank lines follow\r\n\r\n')],
    ['BODY[1.MIME]', lit('BODY[1.MIME]', 'Content-Type: text/plain\r\n\r\n')],
    // No header fields: MIME is the blank line alone; the body's one line break is the next boundary's.
    ['BODY[2.MIME]', lit('BODY[2.MIME]', '\r\n')],
    ['BODY[2]', lit('BODY[2]', '')],
    // An inner multipart never closed ends where the outer boundary begins, before its line break.
    ['BODY[3]', lit('BODY[3]', '--u\r\n\r\nnever closed')],
    ['BODY[3.MIME]', lit('BODY[3.MIME]', 'Content-Type: multipart/mixed; boundary=u\r\n\r\n')],
    ['BODY[3.1]', lit('BODY[3.1]', 'never closed')],
    ['BODY[3.1.MIME]', lit('BODY[3.1.MIME]', '\r\n')],
    // The last part ends before the close delimiter's line break; the epilogue is not in it.
    ['BODY[4]', lit('BODY[4]', 'last')],
    ['BODY[4.MIME]', lit('BODY[4.MIME]', 'Content-Type: text/plain\r\n\r\n')],
  ])('%s', (item, expected) => expect(fetchOf(edges, item)).toBe(expected));

  it('BODYSTRUCTURE sizes and line counts follow the same extents', () => {
    expect(fetchOf(edges, 'BODYSTRUCTURE')).toBe(
      'BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 2 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)' +
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0 NIL NIL NIL NIL) "mixed" ("boundary" "u") NIL NIL NIL)' +
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0 NIL NIL NIL NIL) "mixed" ("boundary" "e") NIL NIL NIL)',
    );
  });
});

describe('RFC 2045 §5.1, §5.2 Content-Type parameters in BODYSTRUCTURE', () => {
  const part = (ct: string): string => fetchOf(`Content-Type: ${ct}\r\n\r\nx\r\n`, 'BODY').replace(/ NIL NIL "7bit" 3 1\)$/, ')');
  it.each<[string, string]>([
    // A text part without charset is us-ascii, reported after the parameters it has.
    ['text/plain', 'BODY ("text" "plain" ("charset" "us-ascii"))'],
    ['text/plain; name="a.txt"', 'BODY ("text" "plain" ("name" "a.txt" "charset" "us-ascii"))'],
    ['TEXT/HTML; format=flowed; delsp=yes', 'BODY ("TEXT" "HTML" ("format" "flowed" "delsp" "yes" "charset" "us-ascii"))'],
    // Parameter names keep their case; charset is found whatever its case.
    ['text/plain; NAME=b.txt; CHARSET=utf-8', 'BODY ("text" "plain" ("NAME" "b.txt" "CHARSET" "utf-8"))'],
    ['text/plain; Name*0="lo"; name*1="ng"', 'BODY ("text" "plain" ("Name" "long" "charset" "us-ascii"))'],
    // Not text: no default.
    ['application/pdf; Name=c.pdf', 'BODY ("application" "pdf" ("Name" "c.pdf") NIL NIL "7bit" 3)'],
    // Broken values, read as Dovecot reads them: the parameter list ends at the first one that is not `; name=value`,
    ['text/plain;;name=b', 'BODY ("text" "plain" ("charset" "us-ascii"))'],
    ['image/png; name=a b.png; x=y', 'BODY ("image" "png" ("name" "a") NIL NIL "7bit" 3)'],
    // a lone type has an empty subtype, anything else after type/subtype spoils the whole value,
    ['text', 'BODY ("text" "" ("charset" "us-ascii"))'],
    ['text/plain junk; name=x', 'BODY ("" "" NIL NIL NIL "7bit" 3)'],
    ['text; charset=utf-8', 'BODY ("" "" NIL NIL NIL "7bit" 3)'],
    // and a multipart without a subtype cannot be split: opaque data.
    ['multipart', 'BODY ("application" "octet-stream" NIL NIL NIL "7bit" 3)'],
  ])('%s', (ct, expected) => expect(part(ct)).toBe(expected));

  it('finds the boundary whatever the case of its name', () => {
    const s = analyzeMessage(Buffer.from('Content-Type: multipart/mixed; BOUNDARY="q"\r\n\r\n--q\r\n\r\none\r\n--q\r\n\r\ntwo\r\n--q--\r\n'));
    expect(s.root.parts?.length).toBe(2);
  });
});
