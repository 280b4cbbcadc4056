import type { DeliveryResult, QueueEntry } from '../queue/types';

/**
 * Mail leaving the cluster: the seam between the gateway's delivery workers
 * (mail-runtime/smtp/delivery/) and the outbound transport (MX lookup,
 * STARTTLS, MTA-STS, DANE, per-destination concurrency, DKIM signing — the
 * smtp-outbound slice). Kept minimal on purpose: the workers hand over the
 * recipients the Router calls remote and record what comes back; retries,
 * expiry and DSNs stay with the queue.
 */
export interface OutboundTransport {
  /**
   * Delivers `message` to `recipients` (all remote). One result per
   * recipient, in the order given: delivered, deferred (4xx, network — the
   * queue retries with backoff) or failed (5xx — the queue bounces). A
   * delivery problem is a result, never a rejection.
   */
  deliver(entry: QueueEntry, recipients: readonly string[], message: Buffer): Promise<DeliveryResult[]>;
}
