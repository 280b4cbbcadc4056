import { LIMITS } from '../../common/limits';
import { filterBySequenceSet, parseSequenceSet, resolveSequenceSet, type ImapValue, type ParseResult, type SequenceSet } from '../protocol';
import { fail, ok, overLimit } from './args';
import type { MailboxView } from './view';

export type SetArg = SequenceSet;

/** NO [LIMIT] text for a set with too many ranges (LIMITS.imapSequenceSetRanges). */
export const TOO_MANY_RANGES = `Sequence set has more than ${LIMITS.imapSequenceSetRanges} ranges`;

/**
 * A sequence-set argument (RFC 3501 §9), or `$`, the saved search result
 * (RFC 5182 §2.2 `seq-last-command`, only on its own). More than
 * LIMITS.imapSequenceSetRanges ranges: NO [LIMIT] (RFC 5530).
 */
export function setArg(v: ImapValue | undefined): ParseResult<SetArg> {
  const set = parseSequenceSet(v);
  if (!set) return fail('Invalid sequence set');
  if (set.kind === 'set' && set.ranges.length > LIMITS.imapSequenceSetRanges) return overLimit(TOO_MANY_RANGES);
  return ok(set);
}

/**
 * The view's UIDs named by a set: sequence numbers for plain commands, UIDs
 * for UID commands (RFC 3501 §6.4.8: UIDs not in the mailbox are ignored).
 * Sequence numbers above the message count are ignored too rather than
 * refused: every client copes with that, not every client copes with BAD.
 * `$` names the saved result's messages that are still in the view, for
 * plain and UID commands alike (RFC 5182 §2.1: expunged ones drop out).
 * Linear in the folder size plus r log r for the set's r ranges.
 */
export function resolveUids(view: MailboxView, set: SetArg, uid: boolean): number[] {
  if (set.kind === 'saved') return view.savedSearch.filter((u) => view.seqOf(u) > 0);
  if (uid) return filterBySequenceSet(set, view.allUids());
  const out: number[] = [];
  for (const seq of resolveSequenceSet(set, view.count)) {
    const u = view.uidAt(seq);
    if (u !== undefined) out.push(u);
  }
  return out;
}
