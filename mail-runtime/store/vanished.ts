/**
 * The mod-sequence of each expunge (RFC 7162 §3.2.5.1 / §3.2.6: QRESYNC's
 * `VANISHED (EARLIER)` lists the UIDs expunged since a client's
 * mod-sequence). Kept with the folder index: replayed from its `x` records
 * and written into each snapshot, so it survives restarts and takeovers.
 *
 * Bounded: past MAX_TRACKED_EXPUNGES the oldest entries are forgotten and
 * `floor` remembers the highest mod-sequence forgotten. A client asking
 * about changes since a mod-sequence below the floor gets every UID that
 * no longer exists in its range, which RFC 7162 §3.2.5.1 allows ("the
 * server MAY ... include UIDs of messages that were expunged earlier").
 */

/** Expunged UIDs remembered per folder (about 40 bytes each in memory, 20 in a snapshot). */
export const MAX_TRACKED_EXPUNGES = 100_000;

export class ExpungeLog {
  private readonly byUid = new Map<number, number>();

  constructor(
    entries: readonly (readonly [uid: number, modseq: number])[] = [],
    /** Highest mod-sequence of a forgotten expunge (0: none forgotten). */
    private floorModseq = 0,
  ) {
    for (const [uid, modseq] of entries) this.byUid.set(uid, modseq);
  }

  get floor(): number {
    return this.floorModseq;
  }

  record(uids: readonly number[], modseq: number): void {
    for (const u of uids) this.byUid.set(u, modseq);
    if (this.byUid.size > MAX_TRACKED_EXPUNGES) this.trim();
  }

  /** Forgets the oldest tenth, so trimming is rare. */
  private trim(): void {
    const entries = [...this.byUid].sort((a, b) => a[1] - b[1]);
    const drop = entries.length - Math.floor(MAX_TRACKED_EXPUNGES * 0.9);
    for (let i = 0; i < drop; i++) {
      this.byUid.delete(entries[i]![0]);
      this.floorModseq = Math.max(this.floorModseq, entries[i]![1]);
    }
  }

  /** UIDs expunged with a mod-sequence above `modseq`, ascending; `complete` false when some may have been forgotten. */
  since(modseq: number): { uids: number[]; complete: boolean } {
    const uids: number[] = [];
    for (const [uid, m] of this.byUid) if (m > modseq) uids.push(uid);
    return { uids: uids.sort((a, b) => a - b), complete: modseq >= this.floorModseq };
  }

  /** [uid, modseq] pairs, ascending by UID (the snapshot form). */
  entries(): [number, number][] {
    return [...this.byUid].sort((a, b) => a[0] - b[0]);
  }
}
