import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageLines, multiLine, parseCommandLine } from '../../mail-runtime/pop3/wire';

/** Properties of the POP3 wire format (mail-runtime/pop3/wire.ts). */

/** Printable text without line ends, dots and spaces frequent. */
const lineText = fc.stringMatching(/^[ .a-zA-Z0-9:\t\u00e9]{0,20}$/);

describe('RFC 1939 §3 command lines', () => {
  it('never throws; what it accepts splits back into the line', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[A-Za-z]{1,9}( [ a-z0-9]{0,6}){0,3}$/)), (line) => {
        const parsed = parseCommandLine(line);
        if (!parsed) return;
        expect(parsed.keyword).toMatch(/^[A-Z]{1,8}$/);
        expect(parsed.args.every((a) => a !== '' && !a.includes(' '))).toBe(true);
        expect(parsed.args.join(' ')).toBe(parsed.rest);
        const k = parsed.keyword.length;
        expect(line.slice(0, k).toUpperCase()).toBe(parsed.keyword);
        expect(line.slice(k)).toBe(line.length > k ? ` ${parsed.rest}` : '');
      }),
    );
  });

  it.each([
    ['STAT', { keyword: 'STAT', args: [], rest: '' }],
    ['top 1 10', { keyword: 'TOP', args: ['1', '10'], rest: '1 10' }],
    ['PASS two words', { keyword: 'PASS', args: ['two', 'words'], rest: 'two words' }],
    ['LIST  1', undefined],
    ['', undefined],
    ['NOOP\u0000', undefined],
  ])('%j', (line, want) => {
    expect(parseCommandLine(line)).toEqual(want);
  });
});

describe('RFC 1939 §3 multi-line responses', () => {
  it('byte-stuffing: the client gets back exactly the lines, and only the terminator is a lone "."', () => {
    fc.assert(
      fc.property(fc.array(lineText, { maxLength: 30 }), (lines) => {
        const wire = [...multiLine(lines)];
        expect(wire[wire.length - 1]).toBe('.');
        const body = wire.slice(0, -1);
        expect(body).not.toContain('.');
        // What a client does (RFC 1939 §3): strip one leading "." from each line.
        expect(body.map((l) => (l.startsWith('.') ? l.slice(1) : l))).toEqual(lines);
      }),
    );
  });

  it('RETR sends the message unchanged; TOP n the header, the blank line and n body lines (§7)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[A-Za-z-]{1,8}: [ -~]{0,10}$/), { minLength: 1, maxLength: 5 }),
        fc.array(lineText, { maxLength: 10 }),
        fc.nat(12),
        (header, body, n) => {
          const message = Buffer.from([...header, '', ...body].map((l) => `${l}\r\n`).join(''), 'latin1');
          expect([...messageLines(message)]).toEqual([...header, '', ...body]);
          expect([...messageLines(message, n)]).toEqual([...header, '', ...body.slice(0, n)]);
        },
      ),
    );
  });

  it('keeps non-ASCII bytes as they are (latin1 in, latin1 out)', () => {
    const bytes = Buffer.from([0x53, 0x3a, 0x20, 0xc3, 0xa9, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x80, 0x0d, 0x0a]);
    const out = Buffer.from([...messageLines(bytes)].map((l) => `${l}\r\n`).join(''), 'latin1');
    expect(out.equals(bytes)).toBe(true);
  });
});
