import { describe, expect, it } from 'vitest';
import { analyzeMessage, renderFetchItem } from '../../../mail-runtime/imap/message';
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

  it('handles LF-only messages and messages without a body', () => {
    const lf = analyzeMessage(Buffer.from('Subject: a\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nx\n--q--\n'));
    expect(lf.root.parts?.length).toBe(1);
    expect(lf.root.parts?.[0].bodyEnd).toBe(lf.root.parts?.[0].bodyStart ? lf.root.parts[0].bodyStart + 1 : -1);
    const none = analyzeMessage(Buffer.from('Subject: only a header'));
    expect(none.root.bodyStart).toBe(none.size);
    expect(none.envelope.subject).toBe('only a header');
  });
});
