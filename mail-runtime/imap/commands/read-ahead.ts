import type { Folder } from '../../store';

/**
 * How many message files are held read ahead of the one being used (SEARCH
 * BODY/TEXT, FETCH bodies). Up to four batches in flight, so both reader
 * threads work at once and a reply that waits for a core (a loaded machine)
 * does not starve the writer; for messages of 32 KiB and more the byte
 * budget below is the bound, so this costs no memory.
 */
const BODY_READ_AHEAD = 128;
/** ...and how many bytes they may hold at most, so a session fetching large messages stays small. */
const BODY_READ_AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * Files asked for in one go (one Folder.readMany, one request to the
 * store's reader threads): the threads answer a whole batch per round trip,
 * so the window is refilled only once a full batch fits in it again. Each
 * request wakes a thread and each answer the event loop (in a profile of
 * FETCH 1:* BODY.PEEK[] the wake-ups cost the main thread as much as its
 * socket writes): 32 a time halves them against 16. The byte budget above
 * still bounds what a session holds.
 */
const BODY_READ_BATCH = 32;

/**
 * Reads message files ahead, in the order they will be used: file reads
 * wait on the disk (and on the network with NFS) and on the reader threads'
 * round trip, so overlapping them with rendering pays. At most
 * BODY_READ_AHEAD further bodies and BODY_READ_AHEAD_BYTES are held besides
 * the one being used (a batch's small files share one buffer, see
 * store/file-reader.ts, so a held message may keep up to its batch's
 * buffer alive: at most two batches' worth). A UID outside the announced
 * order is simply read on demand.
 */
export class BodyReadAhead {
  /** Started reads, in the order's order (batches start at `next`, which only grows). */
  private readonly started = new Map<number, { body: Promise<Buffer>; size: number; settled: boolean }>();
  private readonly index = new Map<number, number>();
  private next = 0;
  private heldBytes = 0;
  constructor(
    private readonly folder: Folder,
    private readonly order: ReadonlyArray<{ uid: number; size: number }>,
  ) {
    order.forEach((m, i) => this.index.set(m.uid, i));
  }

  read(uid: number): Promise<Buffer> {
    const i = this.index.get(uid);
    if (i === undefined) return this.folder.read(uid);
    // Jumped ahead (earlier messages were skipped): forget what they held.
    if (this.next < i) this.next = i;
    for (const [u, held] of this.started) {
      if (this.index.get(u)! >= i) break;
      this.started.delete(u);
      this.heldBytes -= held.size;
    }
    // The wanted message itself is always read (with the batch it starts).
    if (!this.started.has(uid) && this.next === i) this.startBatch(i);
    const hit = this.started.get(uid);
    if (hit) {
      this.started.delete(uid);
      this.heldBytes -= hit.size;
    }
    this.refill();
    return hit ? hit.body : this.folder.read(uid);
  }

  /**
   * Whether read(uid) would give a body already read (or failed) without
   * waiting: a FETCH writes out what it has gathered before it waits.
   */
  ready(uid: number): boolean {
    return this.started.get(uid)?.settled === true;
  }

  /** Starts batches while a full one fits (or the rest of the order, when it is shorter than a batch). */
  private refill(): void {
    while (this.next < this.order.length) {
      const room = BODY_READ_AHEAD - this.started.size;
      if (room < Math.min(BODY_READ_BATCH, this.order.length - this.next)) return;
      if (this.heldBytes + this.order[this.next]!.size > BODY_READ_AHEAD_BYTES) return;
      this.startBatch(-1);
    }
  }

  /** One readMany of up to BODY_READ_BATCH messages from `next`, within the limits; `wanted` is taken whatever it costs. */
  private startBatch(wanted: number): void {
    const batch: Array<{ uid: number; size: number }> = [];
    while (this.next < this.order.length && batch.length < BODY_READ_BATCH && this.started.size + batch.length < BODY_READ_AHEAD + (wanted >= 0 ? 1 : 0)) {
      const m = this.order[this.next]!;
      if (this.next !== wanted && this.heldBytes + m.size > BODY_READ_AHEAD_BYTES) break;
      batch.push(m);
      this.heldBytes += m.size;
      this.next++;
    }
    const bodies = this.folder.readMany(batch.map((m) => m.uid));
    batch.forEach((m, k) => {
      const entry = { body: bodies[k]!, size: m.size, settled: false };
      // Marks it settled; and a skipped message's failure is nobody's business (no unhandled rejection).
      const settle = (): void => {
        entry.settled = true;
      };
      entry.body.then(settle, settle);
      this.started.set(m.uid, entry);
    });
  }
}
