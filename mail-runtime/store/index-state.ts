import type { MessageMeta } from './types';
import type { DeliveryIds } from './deliveries';
import type { ExpungeLog } from './vanished';

/** Why the binary cache was not used (every case falls back to the snapshot and logs, ./index-cache.ts). */
export type CacheMiss = 'absent' | 'version' | 'damaged' | 'stale';

/** A folder's index in memory, as the snapshot and logs (./index-log.ts) or the binary cache (./index-cache.ts) give it. */

export interface Msg extends MessageMeta {
  /** Unique part of the Maildir file name (everything before ":2,"). */
  readonly base: string;
}

export interface IndexState {
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /**
   * RFC 3501 §2.3.2: every UID up to this one has been announced as
   * `\Recent` to some session (claimed). Undefined: not known (an index
   * written before this was kept, or a folder adopted from Dovecot).
   */
  recentUid?: number;
  /** Ascending UIDs. */
  messages: Msg[];
  /** Mod-sequences of expunges (RFC 7162 QRESYNC); one object shared by successive states. */
  expunges: ExpungeLog;
  /** Delivery ids accepted within the horizon (./deliveries.ts); one object shared by successive states. */
  deliveries: DeliveryIds;
  /** Running counts of `messages` (kept by each commit; absent: not counted yet, see countsOf). */
  counts?: MutableCounts;
}

export interface MutableCounts {
  unseen: number;
  deleted: number;
  bytes: number;
}

/** Adds (sign 1) or removes (sign -1) one message's share of the counts. */
export function countMessage(c: MutableCounts, m: { readonly flags: readonly string[]; readonly size: number }, sign: 1 | -1): void {
  let seen = false;
  let deleted = false;
  for (const f of m.flags) {
    if (f === '\\Seen') seen = true;
    else if (f === '\\Deleted') deleted = true;
  }
  if (!seen) c.unseen += sign;
  if (deleted) c.deleted += sign;
  c.bytes += sign * m.size;
}

/** The state's counts, counted once (O(n)) when a state was loaded without them; later states inherit and adjust them. */
export function countsOf(state: IndexState): MutableCounts {
  if (!state.counts) {
    const c: MutableCounts = { unseen: 0, deleted: 0, bytes: 0 };
    for (const m of state.messages) countMessage(c, m, 1);
    state.counts = c;
  }
  return state.counts;
}

export interface LoadedIndex {
  state: IndexState;
  /** Epoch of the snapshot read (-1: none, the folder has no index yet). */
  snapshotEpoch: number;
  /** Generation the snapshot says follows it: appends must never go to a lower one. */
  snapshotGen: number;
  /** Highest log generation of snapshotEpoch present (or snapshot gen - 1 if none). */
  lastGen: number;
  /** A log ended with a partial line (crash during write): start a new generation. */
  torn: boolean;
  /** Records replayed from logs. */
  replayed: number;
  /** Read from the binary cache (./index-cache.ts) rather than the snapshot and logs; else why not. */
  cache?: 'hit' | CacheMiss;
}

