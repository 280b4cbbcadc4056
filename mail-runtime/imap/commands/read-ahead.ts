import type { Folder } from '../../store';

/** How many message files are read ahead of the one being used (SEARCH BODY/TEXT, FETCH bodies). */
const BODY_READ_AHEAD = 8;
/** ...and how many bytes they may hold at most, so a session fetching large messages stays small. */
const BODY_READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * Reads message files a few ahead, in the order they will be used: file
 * reads wait on the thread pool (and on the network with NFS), so
 * overlapping them pays. At most BODY_READ_AHEAD further bodies and
 * BODY_READ_AHEAD_BYTES are held besides the one being used. A UID outside
 * the announced order is simply read on demand.
 */
export class BodyReadAhead {
  private readonly started = new Map<number, { body: Promise<Buffer>; size: number }>();
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
      if (this.index.get(u)! < i) {
        this.started.delete(u);
        this.heldBytes -= held.size;
      }
    }
    // The wanted message itself is always read; the ones after it only within the limits.
    while (this.next < this.order.length && (this.next === i || (this.next <= i + BODY_READ_AHEAD && this.heldBytes + this.order[this.next]!.size <= BODY_READ_AHEAD_BYTES))) {
      const m = this.order[this.next++]!;
      const body = this.folder.read(m.uid);
      body.catch(() => undefined); // a skipped message's failure is nobody's business
      this.started.set(m.uid, { body, size: m.size });
      this.heldBytes += m.size;
    }
    const hit = this.started.get(uid);
    if (!hit) return this.folder.read(uid);
    this.started.delete(uid);
    this.heldBytes -= hit.size;
    return hit.body;
  }
}
