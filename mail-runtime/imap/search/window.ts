import { normalizeRanges, type SequenceSet } from '../protocol';
import type { SearchKey } from './parse';

/** Positions `[from, to)` of a mailbox's messages (0-based, sequence number − 1) a search can match at all. */
interface SearchWindow {
  readonly from: number;
  readonly to: number;
}

/** First index in ascending `sorted` whose value is >= n. */
function lowerBound(sorted: readonly number[], n: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The smallest and largest number the set names, `*` being `star` (the evaluator's own reading of the set). */
function bounds(set: SequenceSet & { kind: 'set' }, star: number): [number, number] | null {
  const ranges = normalizeRanges(set, star);
  if (ranges.length === 0) return null;
  return [ranges[0]![0], ranges[ranges.length - 1]![1]];
}

/**
 * Which messages a SEARCH key can match, from the sequence and UID sets it
 * requires (RFC 3501 §6.4.4: `<sequence set>` and `UID <sequence set>` are
 * search keys; several keys are ANDed). `UID SEARCH 90001:*` on a
 * 100,000-message folder then looks at the last 10,000 messages only, as
 * Dovecot does, instead of deciding 90,000 times that a UID is out of the
 * set. Only keys every match must satisfy narrow the window (a top-level
 * set, or one inside a top-level AND); OR and NOT never narrow. The
 * evaluator still tests each message in the window against the whole key,
 * so the window changes how much is looked at, never the result.
 *
 * `uids` are the mailbox's UIDs ascending (message i has sequence number
 * i + 1); `*` is the last sequence number in a sequence set and the largest
 * UID in a UID set, as in SearchEvaluator.
 */
export function searchWindow(key: SearchKey, uids: readonly number[]): SearchWindow {
  let from = 0;
  let to = uids.length;
  const narrow = (k: SearchKey): void => {
    if (k.op === 'and') {
      for (const sub of k.keys) narrow(sub);
      return;
    }
    if ((k.op !== 'seq' && k.op !== 'uid') || k.set.kind !== 'set') return;
    if (uids.length === 0) return;
    const b = bounds(k.set, k.op === 'seq' ? uids.length : uids[uids.length - 1]!);
    if (!b) return;
    if (k.op === 'seq') {
      from = Math.max(from, b[0] - 1);
      to = Math.min(to, b[1]);
    } else {
      from = Math.max(from, lowerBound(uids, b[0]));
      to = Math.min(to, lowerBound(uids, b[1] + 1));
    }
  };
  narrow(key);
  return to > from ? { from, to } : { from: 0, to: 0 };
}
