/**
 * Sequence sets (RFC 3501 §9) are matched by bisection over merged ranges,
 * never expanded (issue 9: a 10,000-number set made SEARCH re-sort the set
 * for every message).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSequenceSet, sequenceSetMatcher, type SequenceSet } from '../../../mail-runtime/imap/protocol';

const set = (text: string): SequenceSet & { kind: 'set' } => {
  const s = parseSequenceSet(text);
  if (!s || s.kind !== 'set') throw new Error(text);
  return s;
};

/** RFC 3501 §9: n is in the set if some range (in either order, `*` = star) holds it. */
function naive(s: SequenceSet & { kind: 'set' }, n: number, star: number): boolean {
  return s.ranges.some((r) => {
    const a = r.start === '*' ? star : r.start;
    const b = r.end === '*' ? star : r.end;
    return n >= Math.min(a, b) && n <= Math.max(a, b);
  });
}

describe('sequenceSetMatcher', () => {
  it('agrees with the definition', () => {
    const num = fc.oneof(fc.integer({ min: 1, max: 40 }).map(String), fc.constant('*'));
    const range = fc.oneof(num, fc.tuple(num, num).map(([a, b]) => `${a}:${b}`));
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 45 }), fc.integer({ min: 1, max: 45 }), (parts, n, star) => {
        const s = set(parts.join(','));
        return sequenceSetMatcher(s, star)(n) === naive(s, n, star);
      }),
      { numRuns: 3000 },
    );
  });

  it('handles the full 32-bit range and 16,000 overlapping ranges', () => {
    expect(sequenceSetMatcher(set('1:4294967295'), 7)(4294967295)).toBe(true);
    const many = set(Array.from({ length: 16_000 }, () => '1:*').join(','));
    const m = sequenceSetMatcher(many, 3000);
    expect([m(1), m(3000), m(3001)]).toEqual([true, true, false]);
  });
});
