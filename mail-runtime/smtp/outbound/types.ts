import type { RuntimeConfigOf } from '../../config';
import type { DeliveryResult, QueueEntry } from '../queue/types';

/**
 * The transport for mail leaving the cluster. The gateway's delivery workers
 * call it with the recipients of an entry that are not hosted here; it looks
 * up the next hop, applies the destination's TLS policy, signs or seals the
 * message and answers one result per recipient, in the order given.
 *
 * It never throws for a delivery problem: a network failure, a timeout or an
 * abort is a `deferred` result (retried by the worker), a 5xx or a domain that
 * accepts no mail is `failed` (the worker queues the DSN).
 */
export interface OutboundTransport {
  deliver(entry: QueueEntry, recipients: readonly string[], message: Buffer, signal?: AbortSignal): Promise<DeliveryResult[]>;
  /** DKIM keys pushed by the hub's cluster settings (SmtpOutbound); a transport that does not sign leaves it out. */
  setClusterDkimKeys?(keys: Record<string, { selector: string; privateKeyPem: string }> | undefined): void;
}

/** The parsed `outbound` block of a gateway's RuntimeConfig (its defaults live in mail-runtime/config/schema.ts). */
export type OutboundConfig = RuntimeConfigOf<'gateway'>['outbound'];

/** A DKIM key as the config names it (`outbound.dkim[domain]`, `filters.dkim`). */
export type DkimKeyFile = OutboundConfig['dkim'][string];


export type { DeliveryResult, QueueEntry };
