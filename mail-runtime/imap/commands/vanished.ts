/**
 * QRESYNC's VANISHED responses (RFC 7162 §3.2.10): the expunged UIDs a
 * client asked about, from the store's record of when each was expunged.
 */
import { atom, data, formatSequenceSet, list, normalizeRanges, sequenceSetMatcher, type ImapResponse } from '../protocol';
import type { SetArg } from './sets';
import type { MailboxView } from './view';

/**
 * The UID ranges a set names, ascending. `$` (RFC 5182 §2.2) names the
 * saved search's UIDs, including those expunged since it was saved: they
 * are the ones VANISHED is about.
 */
function uidRanges(view: MailboxView, set: SetArg, last: number): Array<[number, number]> {
  if (set.kind === 'set') return normalizeRanges(set, last);
  return view.savedSearch.map((u): [number, number] => [u, u]);
}

/**
 * Every UID in [1, uidNext) named by `set` (all of them without one) that
 * is not in the folder, as a sequence-set; computed on ranges, never
 * expanded, so `1:4294967295` costs what the folder's size does.
 */
function absentUids(view: MailboxView, set: SetArg | undefined): string {
  const last = view.folder.uidNext - 1;
  const ranges: Array<[number, number]> = set ? uidRanges(view, set, last) : [[1, last]];
  const present = view.folder.messages();
  const parts: string[] = [];
  let i = 0;
  for (const [lo0, hi0] of ranges) {
    const hi = Math.min(hi0, last);
    let lo = lo0;
    while (i < present.length && present[i]!.uid < lo) i++;
    while (lo <= hi) {
      const next = i < present.length ? present[i]!.uid : Infinity;
      const end = Math.min(hi, next - 1);
      if (end >= lo) parts.push(end > lo ? `${lo}:${end}` : String(lo));
      if (next > hi) break;
      lo = next + 1;
      i++;
    }
  }
  return parts.join(',');
}

/**
 * `* VANISHED (EARLIER) uids` for the UIDs named by `set` (all without one)
 * that were expunged after `modseq` (RFC 7162 §3.2.5.1 SELECT QRESYNC,
 * §3.2.6 UID FETCH VANISHED); null when there are none. When the store no
 * longer knows every expunge that recent (its log is bounded), every absent
 * UID in the range is reported, as §3.2.5.1 allows.
 */
export function vanishedEarlier(view: MailboxView, modseq: number, set: SetArg | undefined): ImapResponse | null {
  const { uids, complete } = view.folder.expungedSince(modseq);
  let text: string;
  if (!complete) text = absentUids(view, set);
  else {
    const inSet = !set ? null : set.kind === 'set' ? sequenceSetMatcher(set, view.folder.uidNext - 1) : savedMatcher(view);
    const named = inSet ? uids.filter(inSet) : uids;
    text = formatSequenceSet(named);
  }
  return text ? data(atom('VANISHED'), list([atom('EARLIER')]), atom(text)) : null;
}

/** Membership in the saved search result `$` (RFC 5182), expunged UIDs included. */
function savedMatcher(view: MailboxView): (uid: number) => boolean {
  const saved = new Set(view.savedSearch);
  return (uid) => saved.has(uid);
}
