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
  /** `messages`' UIDs and flags as columns (kept by each commit; absent: not derived yet, see flagColumnOf). Never on disk. */
  flagColumn?: FlagColumn;
}

export interface MutableCounts {
  unseen: number;
  deleted: number;
  bytes: number;
}

/** Adds (sign 1) or removes (sign -1) one message's share of the counts. */
export function countMessage(c: MutableCounts, m: { readonly flags: readonly string[]; readonly size: number }, sign: 1 | -1): void {
  const b = flagBits(m.flags);
  if ((b & FLAG_SEEN) === 0) c.unseen += sign;
  if ((b & FLAG_DELETED) !== 0) c.deleted += sign;
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

/**
 * Bits of FlagColumn.bits, one per system flag in its canonical spelling
 * (./flags.ts normalizes every stored flag), one for "has a keyword" and one
 * for a flag that is neither (a backslash flag in another spelling, which
 * normalizeFlags never stores; a reader that sees FLAG_ODD looks at the
 * message's own flags). \Recent is a session notion and never stored.
 */
export const FLAG_SEEN = 1;
export const FLAG_DELETED = 2;
export const FLAG_FLAGGED = 4;
export const FLAG_ANSWERED = 8;
export const FLAG_DRAFT = 16;
export const FLAG_KEYWORD = 32;
export const FLAG_ODD = 64;

/** The FlagColumn bits of one flag list. */
export function flagBits(flags: readonly string[]): number {
  let b = 0;
  for (const f of flags) {
    if (f === '\\Seen') b |= FLAG_SEEN;
    else if (f === '\\Deleted') b |= FLAG_DELETED;
    else if (f === '\\Flagged') b |= FLAG_FLAGGED;
    else if (f === '\\Answered') b |= FLAG_ANSWERED;
    else if (f === '\\Draft') b |= FLAG_DRAFT;
    else b |= f.startsWith('\\') ? FLAG_ODD : FLAG_KEYWORD;
  }
  return b;
}

/** Spare positions in a commit's copy of the column (see FlagColumn.copy). */
const COLUMN_ROOM = 64;

/**
 * A state's messages as two columns, position for position: UIDs and
 * FLAG_* bits. SEARCH on flags (SEARCH UNSEEN on 100,000 messages) reads
 * these typed arrays instead of an object and a flag array per message.
 * Derived in memory (at load, or at the first commit or search of a state
 * without it) and kept by each commit; index.bin and the logs do not
 * change. A published state's column is never written again: a commit
 * copies it first (copy-on-write, like the message list), so a reader may
 * hold it across awaits as it holds `messages`.
 */
export class FlagColumn {
  private constructor(
    /** Messages in the column (the arrays may be longer: room to append). */
    public length: number,
    private uidsAt: Uint32Array,
    private bitsAt: Uint8Array,
  ) {}

  static of(messages: readonly MessageMeta[]): FlagColumn {
    const n = messages.length;
    const c = new FlagColumn(n, new Uint32Array(Math.max(16, n)), new Uint8Array(Math.max(16, n)));
    // Flag lists are often shared (index.bin loads one frozen array per distinct set): their bits are worked out once.
    let lastFlags: readonly string[] | undefined;
    let lastBits = 0;
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      c.uidsAt[i] = m.uid;
      if (m.flags !== lastFlags) {
        lastFlags = m.flags;
        lastBits = flagBits(m.flags);
      }
      c.bitsAt[i] = lastBits;
    }
    return c;
  }

  /**
   * A copy to change (a commit's own), with room for `extra` more messages
   * (COLUMN_ROOM by default: a commit's appends then fit without a second
   * copy, and a published column holds no more spare room than that).
   */
  copy(extra = COLUMN_ROOM): FlagColumn {
    const cap = this.length + extra;
    const uids = new Uint32Array(cap);
    const bits = new Uint8Array(cap);
    uids.set(this.uidsAt.subarray(0, this.length));
    bits.set(this.bitsAt.subarray(0, this.length));
    return new FlagColumn(this.length, uids, bits);
  }

  /** Appends a message (UIDs only grow, so the column stays in UID order). */
  push(m: MessageMeta): void {
    if (this.length === this.uidsAt.length) {
      const c = this.copy(Math.max(COLUMN_ROOM, this.length));
      this.uidsAt = c.uidsAt;
      this.bitsAt = c.bitsAt;
    }
    this.uidsAt[this.length] = m.uid;
    this.bitsAt[this.length] = flagBits(m.flags);
    this.length++;
  }

  /** The message at position `i` got new flags. */
  set(i: number, m: MessageMeta): void {
    this.bitsAt[i] = flagBits(m.flags);
  }

  /** UIDs, ascending (a view of exactly `length`). */
  get uids(): Uint32Array {
    return this.uidsAt.subarray(0, this.length);
  }

  /** FLAG_* bits per position (a view of exactly `length`). */
  get bits(): Uint8Array {
    return this.bitsAt.subarray(0, this.length);
  }
}

/** The state's flag column, derived once (O(n)) when the state was made without one; later states inherit and adjust it. */
export function flagColumnOf(state: IndexState): FlagColumn {
  state.flagColumn ??= FlagColumn.of(state.messages);
  return state.flagColumn;
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

