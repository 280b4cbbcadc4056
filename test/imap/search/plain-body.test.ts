import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeMessage, unicodeCasemap } from '../../../mail-runtime/imap/message';
import { decodedSearchTexts, plainSearchTexts, textIncludes, type FoldedTexts } from '../../../mail-runtime/imap/search';

/**
 * SEARCH BODY/TEXT's fast path (search/plain-body.ts) must answer exactly
 * what the general way answers (RFC 9051 §6.4.4: a substring of the decoded
 * text, i;unicode-casemap): for a message it takes, every search string
 * finds the same; every other message it must decline.
 */
const BOTH = { body: true, text: true } as const;

/** The general way's answer and the fast path's (null when it declines) for one folded search string. */
function answers(raw: Buffer, needle: string): { slow: [boolean, boolean]; fast: [boolean, boolean] | null; texts: FoldedTexts | null } {
  const folded = unicodeCasemap(needle);
  const slowTexts = decodedSearchTexts(raw, analyzeMessage(raw), BOTH);
  const fastTexts = plainSearchTexts(raw, BOTH);
  const ask = (t: FoldedTexts): [boolean, boolean] => [textIncludes(t.body!, folded), textIncludes(t.text!, folded)];
  return { slow: ask(slowTexts), fast: fastTexts ? ask(fastTexts) : null, texts: fastTexts };
}

const headerLine = fc.constantFrom(
  'From: Ann <ann@example.org>\r\n',
  'Subject: hello there\r\n',
  'Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?= Zebra\r\n',
  'Subject: caf\xe9 latin-1 bytes\r\n',
  'X-Folded: one\r\n two\r\n',
  'Content-Type: text/plain\r\n',
  'Content-Type: text/plain; charset=us-ascii\r\n',
  'Content-Type: TEXT/Plain; charset="UTF-8"; format=flowed\r\n',
  'Content-Type: text/plain; charset=iso-8859-1\r\n',
  'Content-Type: text/plain; charset=utf-7\r\n',
  'Content-Type: text/html\r\n',
  'Content-Type: text/plain/junk\r\n',
  'Content-Type: multipart/mixed; boundary=b\r\n',
  'Content-Type: message/rfc822\r\n',
  'Content-Transfer-Encoding: 7bit\r\n',
  'Content-Transfer-Encoding: 8BIT\r\n',
  'Content-Transfer-Encoding: binary\r\n',
  'Content-Transfer-Encoding: base64\r\n',
  'Content-Transfer-Encoding: quoted-printable\r\n',
  'Content-Transfer-Encoding: x-unknown\r\n',
  // Spellings the field reader must take as analyzeMessage does: folded, spaced, lower case, no colon, a leading fold.
  'Content-Type:\r\n text/html\r\n',
  'content-type : text/plain;\r\n\tcharset=latin1\r\n',
  ' Content-Type: text/html\r\n',
  'Content-Transfer-Encoding\r\n',
  'Content-Transfer-Encoding:\r\n base64\r\n',
  'Content-ID: <x>\r\n',
);
/** Body pieces: mostly ASCII (what the fast path takes), with escapes and base64 that only decoding reads, sometimes 8-bit bytes. */
const bodyPiece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('Zebrafish ', 'zebraFISH', '=41=42 ', '=5Aebra=\r\nfish ', 'QUJD', 'emVicmFmaXNo', '--b\r\n', '--b--\r\n', '\r\n', '\n', '\x00\x01\t', 'i I ') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('caf\xe9 ', 'Stra\xdfe ', 'gr\xc3\xbc\xc3\x9fe ') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
const needle = fc.oneof(
  fc.constantFrom('zebrafish', 'ZEBRA', 'fish zeb', 'ab', 'abc', 'café', 'CAFÉ', 'straße', 'ı', 'İ', 'K', 'hello', 'GRÜSSE', 'grüße', '', ' ', 'plain'),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 4 }),
);
const message = fc
  .tuple(fc.array(headerLine, { maxLength: 5 }), fc.constantFrom('\r\n', '\n'), fc.array(bodyPiece, { maxLength: 12 }))
  .map(([header, blank, body]) => Buffer.from(header.join('') + blank + body.join(''), 'latin1'));

describe('SEARCH BODY/TEXT fast path (RFC 9051 §6.4.4, RFC 5051 i;unicode-casemap)', () => {
  it('property: on generated messages it answers what the general way answers, or declines', () => {
    let taken = 0;
    fc.assert(
      fc.property(message, fc.array(needle, { minLength: 1, maxLength: 4 }), (raw, needles) => {
        const fast = plainSearchTexts(raw, BOTH);
        if (!fast) return;
        taken++;
        // The same folded texts, piece for piece, so every search string finds the same.
        expect(fast).toEqual(decodedSearchTexts(raw, analyzeMessage(raw), BOTH));
        for (const n of needles) {
          const a = answers(raw, n);
          expect(a.fast, JSON.stringify(n)).toEqual(a.slow);
        }
      }),
      { numRuns: 1500 },
    );
    // The generator must exercise the fast path, not only its refusals.
    expect(taken).toBeGreaterThan(100);
  });

  it('takes single-part ASCII text/plain with an identity encoding, and finds text case-insensitively', () => {
    for (const head of ['', 'Content-Type: text/plain\r\n', 'Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n', 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: binary\r\n']) {
      const raw = Buffer.from(`Subject: Greetings\r\n${head}\r\nWe saw a ZebraFish today.\r\n`, 'latin1');
      expect(plainSearchTexts(raw, BOTH), head).not.toBeNull();
      expect(answers(raw, 'zebrafish'), head).toMatchObject({ slow: [true, true], fast: [true, true] });
      // TEXT also looks in the header; BODY does not.
      expect(answers(raw, 'greetings'), head).toMatchObject({ slow: [false, true], fast: [false, true] });
      // RFC 5051: the dotless ı titlecases to I, so it finds an ASCII i.
      expect(answers(raw, 'fısh'), head).toMatchObject({ slow: [true, true], fast: [true, true] });
      expect(answers(raw, 'zebra fish'), head).toMatchObject({ slow: [false, false], fast: [false, false] });
    }
  });

  it('declines non-ASCII bodies, other charsets, base64, quoted-printable, multipart and non-plain types', () => {
    const cases: Array<[string, string, string]> = [
      ['latin-1 bytes', 'Content-Type: text/plain; charset=iso-8859-1\r\n', 'caf\xe9 zebrafish\r\n'],
      ['8-bit in utf-8', 'Content-Type: text/plain; charset=utf-8\r\n', 'caf\xc3\xa9 zebrafish\r\n'],
      ['ascii in another charset', 'Content-Type: text/plain; charset=utf-7\r\n', 'caf+AOk- zebrafish\r\n'],
      ['base64', 'Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n', `${Buffer.from('a zebrafish').toString('base64')}\r\n`],
      ['quoted-printable', 'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n', 'caf=E9 zebra=\r\nfish\r\n'],
      ['multipart', 'Content-Type: multipart/mixed; boundary=b\r\n', '--b\r\nContent-Type: text/plain\r\n\r\nzebrafish\r\n--b--\r\n'],
      ['html', 'Content-Type: text/html\r\n', '<p>zebrafish</p>\r\n'],
      ['no body', 'Subject: zebrafish', ''],
    ];
    for (const [what, head, body] of cases) {
      const raw = Buffer.from(`From: a@b\r\n${head}${body ? `\r\n${body}` : ''}`, 'latin1');
      expect(plainSearchTexts(raw, BOTH), what).toBeNull();
    }
    // What the general way finds there (decoded), so declining matters: the bytes alone would say otherwise.
    const qp = Buffer.from('Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nzebra=\r\nfish\r\n', 'latin1');
    expect(answers(qp, 'zebrafish').slow).toEqual([true, true]);
    const b64 = Buffer.from(`Content-Transfer-Encoding: base64\r\n\r\n${Buffer.from('a zebrafish').toString('base64')}\r\n`, 'latin1');
    expect(answers(b64, 'zebrafish').slow).toEqual([true, true]);
    const latin1 = Buffer.from('Content-Type: text/plain; charset=iso-8859-1\r\n\r\nCAF\xc9\r\n', 'latin1');
    expect(answers(latin1, 'café').slow).toEqual([true, true]);
  });
});
