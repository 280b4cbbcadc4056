/**
 * The durable queue on shared storage: every message a gateway (or a
 * submission listener) accepts is written here, fsynced, and only then
 * acknowledged with 250 (DESIGN.md: durable before ack). Delivery workers take
 * entries from it: hosted recipients go over LMTP to the node that owns the
 * mailbox, others to the outbound transport. An entry leaves the queue only
 * when every recipient is delivered or has failed for good (and the DSN for
 * the failures is itself queued).
 *
 * Ownership: entries belong to the member that queued them, with an epoch
 * (like mailboxes); a gateway that is gone for good has its entries taken
 * over by another with a higher epoch, so nothing is stranded and nothing is
 * delivered twice by two owners.
 */

export type RecipientStatus = 'pending' | 'delivered' | 'failed';

export interface QueuedRecipient {
  address: string;
  status: RecipientStatus;
  /** Deliveries tried for this recipient. */
  attempts: number;
  /** The last reply from the next hop, as text (`451 4.2.0 …`), for `mailfleet queue show` and the DSN. */
  lastReply?: string;
  /** When the recipient was delivered or failed (ISO 8601). */
  doneAt?: string;
  /** Deliver into the recipient's Junk folder (a spam filter decided). */
  folder?: 'junk';
}

export interface QueueEntry {
  /** Unique, sortable (time-prefixed) id; also the spool file name. */
  id: string;
  /** ISO 8601, when the 250 was sent. */
  receivedAt: string;
  /** '' for the null sender. */
  mailFrom: string;
  recipients: QueuedRecipient[];
  /** Octets of the stored message (with the headers we added). */
  size: number;
  /** Earliest next attempt (ISO 8601); absent: now. */
  nextAttemptAt?: string;
  /** Give up (bounce the pending recipients) after this time (ISO 8601). */
  expiresAt: string;
  /** Who may deliver it: the queueing member and its fencing epoch. */
  owner: { memberId: string; epoch: number };
  /** Where it came from: the MX, submission, or a DSN we generated. */
  origin: 'mx' | 'submission' | 'dsn' | 'forward';
  /** DSN parameters from the client (RFC 3461): RET and ENVID. */
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string };
}

/** The result of one delivery attempt for one recipient. */
export type DeliveryResult =
  | { status: 'delivered'; reply: string }
  /** 4xx or a network failure: retried with backoff until the entry expires. */
  | { status: 'deferred'; reply: string }
  /** 5xx: failed for good; a DSN goes to the sender (unless mailFrom is ''). */
  | { status: 'failed'; reply: string };

/** What a listener needs from the queue: durable hand-over before it answers 250. */
export interface QueueWriter {
  /**
   * Stores the message and its entry durably (file, directory and entry
   * fsynced) and resolves with the entry id; only then may the caller send
   * 250. Rejects when the queue cannot take it (disk full, fenced): answer 451.
   * `id` may be given when the caller already wrote it into the message (the
   * `id` clause of the Received header, RFC 5321 §4.4); it must come from
   * newQueueId() (queue/index.ts). Absent: the queue picks one.
   */
  enqueue(entry: Omit<QueueEntry, 'id' | 'receivedAt' | 'owner' | 'size'> & { id?: string }, message: Buffer): Promise<string>;
}
