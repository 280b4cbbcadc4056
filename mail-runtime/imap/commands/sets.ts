import { LIMITS } from '../../common/limits';
import { filterBySequenceSet, parseSequenceSet, resolveSequenceSet, type ImapValue, type ParseResult, type SequenceSet } from '../protocol';
import { fail, ok, overLimit } from './args';
import type { MailboxView } from './view';

export type SetArg = SequenceSet & { kind: 'set' };

/** NO [LIMIT] text for a set with too many ranges (LIMITS.imapSequenceSetRanges). */
export const TOO_MANY_RANGES = `Sequence set has more than ${LIMITS.imapSequenceSetRanges} ranges`;

/**
 * A sequence-set argument (RFC 3501 §9). `$` (RFC 5182 SEARCHRES) is not
 * offered, so it is refused. More than LIMITS.imapSequenceSetRanges ranges:
 * NO [LIMIT] (RFC 5530).
 */
export function setArg(v: ImapValue | undefined): ParseResult<SetArg> {
  const set = parseSequenceSet(v, false);
  if (!set || set.kind !== 'set') return fail('Invalid sequence set');
  if (set.ranges.length > LIMITS.imapSequenceSetRanges) return overLimit(TOO_MANY_RANGES);
  return ok(set);
}

/**
 * The view's UIDs named by a set: sequence numbers for plain commands, UIDs
 * for UID commands (RFC 3501 §6.4.8: UIDs not in the mailbox are ignored).
 * Sequence numbers above the message count are ignored too rather than
 * refused: every client copes with that, not every client copes with BAD.
 * Linear in the folder size plus r log r for the set's r ranges.
 */
export function resolveUids(view: MailboxView, set: SetArg, uid: boolean): number[] {
  if (uid) return filterBySequenceSet(set, view.allUids());
  const out: number[] = [];
  for (const seq of resolveSequenceSet(set, view.count)) {
    const u = view.uidAt(seq);
    if (u !== undefined) out.push(u);
  }
  return out;
}
