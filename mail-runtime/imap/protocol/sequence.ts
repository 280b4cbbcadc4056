/**
 * Sequence sets (RFC 3501 §9 `sequence-set`, RFC 5182 `$`).
 *
 * `*` is the largest number in use (highest sequence number or UID); a range
 * `a:b` is the same as `b:a` (RFC 3501 §9 `seq-range`).
 */
import type { ImapValue } from './values';

export type SeqNumber = number | '*';

export interface SequenceRange {
  readonly start: SeqNumber;
  readonly end: SeqNumber;
}

export type SequenceSet =
  | { readonly kind: 'set'; readonly ranges: readonly SequenceRange[] }
  /** `$`: the saved search result (RFC 5182 SEARCHRES). */
  | { readonly kind: 'saved' };

/** RFC 3501 §9: nz-number is a 32-bit unsigned integer greater than zero. */
const MAX_NZ = 0xffffffff;

function parseSeqNumber(s: string): SeqNumber | null {
  if (s === '*') return '*';
  if (!/^[1-9][0-9]{0,9}$/.test(s)) return null;
  const n = Number(s);
  return n <= MAX_NZ ? n : null;
}

/** Parses `1:*,3,5:7` (from an atom, number or raw text). Null when invalid. */
export function parseSequenceSet(v: ImapValue | string | undefined, allowSaved = true): SequenceSet | null {
  let text: string;
  if (typeof v === 'string') text = v;
  else if (v?.type === 'atom' && !v.section) text = v.value;
  else if (v?.type === 'number') text = v.raw;
  else return null;
  if (text === '$') return allowSaved ? { kind: 'saved' } : null;
  if (text.length === 0) return null;
  const ranges: SequenceRange[] = [];
  for (const part of text.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      const n = parseSeqNumber(part);
      if (n === null) return null;
      ranges.push({ start: n, end: n });
    } else {
      const a = parseSeqNumber(part.slice(0, colon));
      const b = parseSeqNumber(part.slice(colon + 1));
      if (a === null || b === null) return null;
      ranges.push({ start: a, end: b });
    }
  }
  return { kind: 'set', ranges };
}

/** Sorted, merged [lo, hi] pairs with `*` replaced by `star`. */
export function normalizeRanges(set: SequenceSet & { kind: 'set' }, star: number): Array<[number, number]> {
  const pairs = set.ranges.map((r): [number, number] => {
    const a = r.start === '*' ? star : r.start;
    const b = r.end === '*' ? star : r.end;
    return a <= b ? [a, b] : [b, a];
  });
  pairs.sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const p of pairs) {
    const last = out[out.length - 1];
    if (last && p[0] <= last[1] + 1) last[1] = Math.max(last[1], p[1]);
    else out.push([p[0], p[1]]);
  }
  return out;
}

/**
 * Message sequence numbers 1..`count` named by the set, ascending, no
 * duplicates. Numbers above `count` are dropped; use `sequenceSetExceeds` to
 * answer BAD for them (RFC 3501 §9 says such a set is invalid for sequence numbers).
 */
export function resolveSequenceSet(set: SequenceSet & { kind: 'set' }, count: number): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  for (const [lo, hi] of normalizeRanges(set, count)) {
    for (let n = Math.max(1, lo); n <= Math.min(hi, count); n++) out.push(n);
  }
  return out;
}

/** True when the set names a number above `max` (other than through `*`). */
export function sequenceSetExceeds(set: SequenceSet & { kind: 'set' }, max: number): boolean {
  return set.ranges.some((r) => (r.start !== '*' && r.start > max) || (r.end !== '*' && r.end > max));
}

/** The members of `sorted` (ascending, e.g. the UIDs of a mailbox) named by the set; `*` = last of `sorted`. */
export function filterBySequenceSet(set: SequenceSet & { kind: 'set' }, sorted: readonly number[]): number[] {
  if (sorted.length === 0) return [];
  const ranges = normalizeRanges(set, sorted[sorted.length - 1]);
  const out: number[] = [];
  let r = 0;
  for (const n of sorted) {
    while (r < ranges.length && ranges[r][1] < n) r++;
    if (r >= ranges.length) break;
    if (n >= ranges[r][0]) out.push(n);
  }
  return out;
}

/**
 * A membership test for the set, `*` being `star`: the ranges are sorted and
 * merged once (O(r log r)), then each test is a binary search (O(log r)).
 * Never expands the set, so `1:4294967295` costs what `1` does.
 */
export function sequenceSetMatcher(set: SequenceSet & { kind: 'set' }, star: number): (n: number) => boolean {
  const ranges = normalizeRanges(set, star);
  const lo = Float64Array.from(ranges, (r) => r[0]);
  const hi = Float64Array.from(ranges, (r) => r[1]);
  return (n) => {
    // The last range starting at or below n.
    let a = 0;
    let b = lo.length - 1;
    let at = -1;
    while (a <= b) {
      const mid = (a + b) >> 1;
      if (lo[mid] <= n) {
        at = mid;
        a = mid + 1;
      } else b = mid - 1;
    }
    return at >= 0 && n <= hi[at];
  };
}

/** Compact form of a list of numbers for responses (`1:3,7,9:10`), e.g. COPYUID (RFC 4315). Keeps the given order. */
export function formatSequenceSet(numbers: ArrayLike<number>): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(j === i ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
