import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeMessage, bodyStructureValue, envelopeValue, type MimePart } from '../../../mail-runtime/imap/message';
import { compileValue } from '../../../mail-runtime/imap/protocol';

const piece = fc.oneof(
  fc.constantFrom(
    'Content-Type: multipart/mixed; boundary=a\r\n',
    'Content-Type: multipart/digest; boundary="a"\r\n',
    'Content-Type: message/rfc822\r\n',
    'Content-Type: text/plain; charset*0*=x; charset*1=y\r\n',
    'From: "A" <a@b>, (c) d, g: e@f;\r\n',
    'Subject: =?utf-8?q?x?=\r\n\t folded\r\n',
    '--a\r\n',
    '--a--\r\n',
    '\r\n',
    '\n',
    'text line\r\n',
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
);

function checkOffsets(p: MimePart, size: number): void {
  expect(p.headerStart).toBeLessThanOrEqual(p.headerEnd);
  expect(p.bodyStart).toBe(p.headerEnd);
  expect(p.bodyStart).toBeLessThanOrEqual(p.bodyEnd);
  expect(p.bodyEnd).toBeLessThanOrEqual(size);
  for (const c of p.parts ?? []) checkOffsets(c, size);
  if (p.message) checkOffsets(p.message, size);
}

describe('property: analyzeMessage on arbitrary input', () => {
  it('never throws, keeps offsets in bounds and survives JSON', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 25 }), (pieces) => {
        const raw = Buffer.from(pieces.join(''), 'latin1');
        const s = analyzeMessage(raw);
        checkOffsets(s.root, raw.length);
        expect(JSON.parse(JSON.stringify(s))).toEqual(s);
        compileValue(envelopeValue(s.envelope));
        compileValue(bodyStructureValue(s.root, true));
      }),
      { numRuns: 400 },
    );
  });
});
