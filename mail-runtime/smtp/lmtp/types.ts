import type { Directory, DirectoryUser } from '../../auth';

/** Which Maildir folder a delivery goes to: INBOX, or the user's Junk (RFC 6154 \Junk). */
export type DeliveryFolder = 'inbox' | 'junk';

/**
 * Final delivery into the store of a mailbox this node owns (the node
 * implements it on the MailStore: mail-runtime/node/delivery.ts). Resolves
 * only once the message is durable (the store's group commit has fsynced
 * it and re-checked ownership); rejects with the store's StoreError
 * (OVERQUOTA, STALE_EPOCH, IO, …), which deliveryFailure() turns into the
 * recipient's reply.
 */
export interface LocalDelivery {
  /**
   * `deliveryId`: the queued message's id (../common/delivery-id.ts). A
   * folder that already accepted it (within the store's horizon) writes
   * nothing and resolves with `duplicate: true` — the earlier copy is
   * durable, so the recipient's reply is 250 all the same.
   */
  deliver(user: DirectoryUser, message: Buffer, opts: { folder: DeliveryFolder; deliveryId?: string }): Promise<{ duplicate: boolean }>;
}

/**
 * Does this node serve `address`'s mailbox right now? Today every local
 * user is ours (epoch 1, mail-runtime/node/mailboxes.ts); the hub's
 * placement (issue 12) answers it from the placement map and the lease.
 */
export type OwnsMailbox = (address: string) => boolean | Promise<boolean>;

/** What the LMTP phases need. */
export interface LmtpDeps {
  directory: Directory;
  owns: OwnsMailbox;
  delivery: LocalDelivery;
  hostname: string;
}
