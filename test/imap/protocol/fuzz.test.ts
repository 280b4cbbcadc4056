import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandReader, type ReaderEvent } from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

/** Events as comparable JSON (Buffers become latin1 text). */
function norm(events: ReaderEvent[]): string {
  return JSON.stringify(events, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return Buffer.from((v as { data: number[] }).data).toString('latin1');
    return v;
  });
}

function feed(chunks: Buffer[], opts?: ConstructorParameters<typeof CommandReader>[0]): ReaderEvent[] {
  const r = new CommandReader(opts ?? { maxLiteralBytes: TEST_LITERAL_BYTES });
  const out: ReaderEvent[] = [];
  for (const c of chunks) {
    r.push(c);
    out.push(...r.drain());
  }
  return out;
}

/** Split a buffer at the given cut points. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(buf.subarray(last, p));
    last = p;
  }
  out.push(buf.subarray(last));
  return out;
}

// Pieces that make realistic, often broken, command streams.
const piece = fc.oneof(
  fc.constantFrom(
    'a1 NOOP\r\n',
    'a2 LOGIN {4}\r\nuser "pw"\r\n',
    'a3 APPEND INBOX (\\Seen) {5+}\r\nhello\r\n',
    'a4 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM)]<0.10>)\r\n',
    'a5 SEARCH CHARSET UTF-8 TEXT {6}\r\n\xc2\xa1This\r\n',
    'a6 X ((a) "b\\"" NIL 12)\n',
    'bad "unterminated\r\n',
    'a7 X {3} trailing\r\n',
    'a8 X {99999999999+}\r\n',
    ')\r\n',
    '\r\n',
    '{',
    '"',
    '~{2}\r\nzz',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

describe('property: the reader never throws and is chunking-independent', () => {
  it('random bytes never throw and always end up in events or the buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (arr) => {
        const r = new CommandReader({ maxLineBytes: 200, maxLiteralBytes: 300, maxNonSyncLiteralBytes: 50 });
        r.push(Buffer.from(arr));
        const events = r.drain();
        for (const e of events) {
          if (e.type === 'error') expect(e.error.text.length).toBeGreaterThan(0);
        }
        // Bounded memory: at most the caps are held.
        expect(r.bufferedBytes).toBeLessThanOrEqual(600);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary chunking gives the same events as one chunk', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (pieces, cuts) => {
        const whole = Buffer.from(pieces.join(''), 'latin1');
        const opts = { maxLineBytes: 120, maxLiteralBytes: 100, maxNonSyncLiteralBytes: 10 };
        expect(norm(feed(split(whole, cuts), opts))).toBe(norm(feed([whole], opts)));
      }),
      { numRuns: 400 },
    );
  });

  it('byte-by-byte feeding gives the same events as one chunk', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const whole = Buffer.from(pieces.join(''), 'latin1');
        const bytes = [...whole].map((b) => Buffer.from([b]));
        expect(norm(feed(bytes))).toBe(norm(feed([whole])));
      }),
      { numRuns: 150 },
    );
  });
});
