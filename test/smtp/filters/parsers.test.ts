import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClamdError, parseClamdReply } from '../../../mail-runtime/smtp/filters/clamd/instream';
import { parseHeaderFields } from '../../../mail-runtime/smtp/filters/headers';
import { MilterProtocolError, PacketDecoder, encodePacket } from '../../../mail-runtime/smtp/filters/milter/protocol';
import { parseReplyLine, replyText } from '../../../mail-runtime/smtp/filters/reply';
import { SpamdError, parseSpamdReply } from '../../../mail-runtime/smtp/filters/spam/spamd';

/**
 * Property tests for every parser of peer input (CONVENTIONS.md): a milter,
 * clamd or spamd may send anything, and the answer is a parsed value or
 * that parser's own error, never a crash, and never text that could break
 * an SMTP reply line.
 */
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

describe('milter packet framing', () => {
  const packets = fc.array(fc.record({ cmd: fc.constantFrom(...'acdhimpqrsty+-O'.split('')), data: bytes }), { maxLength: 8 });

  it('packets survive any split of the byte stream', () => {
    fc.assert(
      fc.property(packets, fc.array(fc.nat(), { maxLength: 10 }), (list, cuts) => {
        const wire = Buffer.concat(list.map((p) => encodePacket(p.cmd, p.data)));
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const d = new PacketDecoder();
        const got = [];
        let at = 0;
        for (const p of [...points, wire.length]) {
          got.push(...d.feed(wire.subarray(at, p)));
          at = p;
        }
        expect(got).toEqual(list.map((p) => ({ cmd: p.cmd, data: p.data })));
      }),
    );
  });

  it('arbitrary bytes: packets or a MilterProtocolError', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        try {
          new PacketDecoder().feed(b);
        } catch (err) {
          expect(err).toBeInstanceOf(MilterProtocolError);
        }
      }),
    );
  });
});

describe('reply lines from peers', () => {
  it('anything in, a 4xx/5xx reply on one printable line (or nothing) out', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('550 5.7.1 x', '451-a\r\n451 b', '421 4.3.2 bye\n')), (line) => {
        const r = parseReplyLine(line);
        if (!r) return;
        expect(r.code).toBeGreaterThanOrEqual(400);
        expect(r.code).toBeLessThan(600);
        expect(r.enhanced[0]).toBe(String(r.code)[0]);
        expect(r.text).toMatch(/^[\x20-\x7e]{1,400}$/);
      }),
    );
  });

  it('replyText never ends a line and stays within the reply limit (RFC 5321 §4.5.3.1.5)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (t) => {
        const out = replyText(t);
        expect(out).not.toMatch(/[\r\n\0]/);
        expect(out.length).toBeLessThanOrEqual(400);
      }),
    );
  });
});

describe('clamd and spamd replies', () => {
  it('clamd: an answer or a ClamdError', () => {
    fc.assert(
      fc.property(fc.oneof(bytes, fc.string().map((s) => Buffer.from(`stream: ${s} FOUND\0`))), (b) => {
        try {
          const a = parseClamdReply(b);
          expect(['clean', 'infected']).toContain(a.status);
        } catch (err) {
          expect(err).toBeInstanceOf(ClamdError);
        }
      }),
    );
  });

  it('spamd: an answer or a SpamdError', () => {
    const plausible = fc
      .tuple(fc.double({ noNaN: true }), fc.array(fc.stringMatching(/^[A-Z_]{1,12}$/), { maxLength: 5 }))
      .map(([score, syms]) => Buffer.from(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; ${score} / 5.0\r\n\r\n${syms.join(',')}`));
    fc.assert(
      fc.property(fc.oneof(bytes, plausible), (b) => {
        try {
          const a = parseSpamdReply(b);
          expect(Number.isFinite(a.score)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(SpamdError);
        }
      }),
    );
  });
});

describe('header fields', () => {
  it('generated fields come back as they were written, folding included', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);
    const line = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.array(line, { minLength: 1, maxLength: 3 })), { maxLength: 10 }), (fields) => {
        const text = fields.map(([n, lines]) => `${n}: ${lines.join('\r\n\t')}\r\n`).join('') + '\r\nbody: not a header\r\n';
        const parsed = parseHeaderFields(Buffer.from(text, 'latin1'));
        expect(parsed).toEqual(fields.map(([n, lines]) => ({ name: n, raw: ` ${lines.join('\r\n\t')}` })));
      }),
    );
  });

  it('arbitrary bytes never throw', () => {
    fc.assert(fc.property(bytes, (b) => void parseHeaderFields(b)));
  });
});
