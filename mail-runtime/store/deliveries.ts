/**
 * Delivery ids a folder has accepted: what makes a repeated delivery of one
 * queued message land once.
 *
 * SMTP is at-least-once (RFC 5321 §4.1.1.4, §6.1): a sender that loses the
 * reply after the final "." retries, and a gateway that takes over a dead
 * gateway's queue retries what the dead one had delivered but not yet
 * recorded as done. The gateway sends each queue entry's id with every
 * attempt (mail-runtime/smtp/common/delivery-id.ts); the folder remembers
 * the ids it accepted and answers a second delivery of the same id with the
 * first one's result instead of writing a second copy.
 *
 * Durable with the message: the id rides on the append's own log record
 * (`a` record, field `k`, same fsync) and in the Maildir file's base name
 * (so the reconcile of a file whose record was lost still knows it); every
 * snapshot lists the ids still within the horizon. Restarts and new owners
 * after a takeover therefore know them.
 *
 * Bounded in time and size: an id is kept DELIVERY_ID_HORIZON_MS after its
 * delivery (the default queue lifetime, queue.expireHours = 120: a queue
 * never retries an entry older than that), at most MAX_DELIVERY_IDS per
 * folder (the oldest go first). Beyond that, delivery is at-least-once again.
 */

/** How long an accepted id is remembered: the default queue lifetime (queue.expireHours 120). */
export const DELIVERY_ID_HORIZON_MS = 120 * 3600_000;
/** Ids remembered per folder at most (about 100 bytes each in memory, 40 in a snapshot). */
export const MAX_DELIVERY_IDS = 100_000;

/**
 * What a delivery id may look like: lowercase letters and digits (a queue id
 * is 19 of them), so it fits in a Maildir base name as is.
 */
export const DELIVERY_ID_RE = /^[0-9a-z]{8,40}$/;

export interface AcceptedDelivery {
  /** When the folder accepted it (ms since 1970): the message's internal date (RFC 3501 §2.3.3: the time of final delivery). */
  at: number;
  /** The UID it got (it may have been expunged since). */
  uid: number;
}

export class DeliveryIds {
  /** Insertion order is acceptance order (ids are recorded as their batches commit). */
  private readonly byId = new Map<string, AcceptedDelivery>();

  constructor(entries: readonly (readonly [id: string, at: number, uid: number])[] = [], now = Date.now()) {
    for (const [id, at, uid] of [...entries].sort((a, b) => a[1] - b[1])) this.byId.set(id, { at, uid });
    this.prune(now);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The earlier acceptance of `id` within the horizon, if any. */
  get(id: string, now = Date.now()): AcceptedDelivery | undefined {
    const found = this.byId.get(id);
    return found && now - found.at < DELIVERY_ID_HORIZON_MS ? found : undefined;
  }

  record(id: string, at: number, uid: number): void {
    this.byId.delete(id);
    this.byId.set(id, { at, uid });
    if (this.byId.size > MAX_DELIVERY_IDS) this.prune(Date.now());
  }

  /** Forgets ids past the horizon, then the oldest beyond the size bound (a tenth more, so this is rare). */
  prune(now: number): void {
    for (const [id, d] of this.byId) {
      if (now - d.at >= DELIVERY_ID_HORIZON_MS) this.byId.delete(id);
    }
    if (this.byId.size <= MAX_DELIVERY_IDS) return;
    let drop = this.byId.size - Math.floor(MAX_DELIVERY_IDS * 0.9);
    for (const id of this.byId.keys()) {
      if (drop-- <= 0) break;
      this.byId.delete(id);
    }
  }

  /** [id, at, uid] within the horizon, oldest first (the snapshot form). */
  entries(now = Date.now()): [string, number, number][] {
    const out: [string, number, number][] = [];
    for (const [id, d] of this.byId) if (now - d.at < DELIVERY_ID_HORIZON_MS) out.push([id, d.at, d.uid]);
    return out;
  }
}

/** Marker of a delivery id inside a Maildir base name we write (see folder.ts newBaseName). */
const IN_BASE_RE = /^\d+\.M\d+P\d+Q\d+R[0-9a-f]+X([0-9a-z]{8,40})\./;

/** The delivery id a base name of ours carries, if any. */
export function deliveryIdOfBase(base: string): string | undefined {
  return IN_BASE_RE.exec(base)?.[1];
}
