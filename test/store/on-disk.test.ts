import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../mail-runtime/store';
import { parseSnapshot, SnapshotFile } from '../../mail-runtime/store/on-disk';

/** A value that is sometimes a valid tuple field and often not. */
const field = fc.oneof(
  fc.integer({ min: -2, max: 2 ** 32 + 1 }),
  fc.constantFrom(0, 1, 0xffff_ffff, 2 ** 32, 1.5, -1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, Infinity, NaN),
  fc.constantFrom('', 'base', null, true),
  fc.array(fc.constantFrom('\\Seen', '', 'kw', 3 as unknown as string), { maxLength: 3 }),
);
const goodTuple = fc.tuple(
  fc.integer({ min: 1, max: 0xffff_ffff }),
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.array(fc.constantFrom('\\Seen', '\\Flagged', 'kw'), { maxLength: 3 }),
  fc.integer(),
  fc.nat(),
  fc.nat(),
);
/** A good tuple with one field replaced, one dropped, or one added. */
const tuple = fc.oneof(
  goodTuple.map((t): unknown => t),
  fc.tuple(goodTuple, fc.nat({ max: 5 }), field).map(([t, i, v]): unknown => t.map((x, k) => (k === i ? v : x))),
  fc.tuple(goodTuple, fc.nat({ max: 5 })).map(([t, i]): unknown => t.filter((_, k) => k !== i)),
  goodTuple.map((t): unknown => [...t, 0]),
  field,
);

function snapshotText(messages: unknown[]): string {
  return JSON.stringify({ v: 1, epoch: 1, gen: 0, uidValidity: 7, uidNext: 1, highestModseq: 1, messages });
}

describe('snapshot check (the hand-written check of message tuples)', () => {
  it('accepts exactly what the SnapshotFile schema accepts, and reports what it reports', () => {
    fc.assert(
      fc.property(fc.array(tuple, { maxLength: 4 }), (messages) => {
        const text = snapshotText(messages);
        const zod = SnapshotFile.safeParse(JSON.parse(text));
        let error: unknown;
        try {
          expect(parseSnapshot(text, 'snap.json')).toEqual(zod.data);
        } catch (e) {
          error = e;
        }
        if (zod.success) expect(error).toBeUndefined();
        else {
          // Refused as CORRUPT naming the file and the field, as the schema alone did.
          expect(isStoreError(error, 'CORRUPT')).toBe(true);
          expect((error as Error).message).toMatch(/^snap\.json is damaged: messages/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a bad tuple after 1,000 good ones is still refused with its index', () => {
    const good = Array.from({ length: 1000 }, (_, i) => [i + 1, `b${i}`, [], 0, 10, 1]);
    expect(() => parseSnapshot(snapshotText([...good, [1001, 'b', ['\\Seen'], 0, -1, 1]]), 's.json')).toThrow(/s\.json is damaged: messages\[1000\]\[4\]/);
  });
});
