import type { Logger } from '../../common/log';
import { isStoreError } from '../../store';
import { reply, COMMON_REPLIES } from '../common';
import type { Reply } from '../filters/types';

/** Replies of final delivery, shared by LMTP and submission's internal delivery. */
export const DELIVERY_REPLIES = {
  /** RFC 5321 §3.3 / RFC 3463 X.1.1: no such mailbox. Permanent: asked at RCPT. */
  unknownUser: reply(550, '5.1.1', 'No such user here'),
  /**
   * The mailbox is not served by this node (placement moved it, or a newer
   * owner fenced us). Temporary (RFC 3463 X.2.0 mailbox status), so the
   * sender asks placement again and retries against the right owner.
   */
  notOwner: reply(450, '4.2.0', 'Mailbox not served by this node, try again later'),
  /** RFC 3463 X.2.2 mailbox full: permanent for this message (the choice; RFC 2033 §4.2 per recipient). */
  overQuota: reply(552, '5.2.2', 'Mailbox full (quota exceeded)'),
  /** RFC 3463 X.3.4 message too big for system. */
  tooBig: reply(552, '5.3.4', 'Message too big'),
} as const;

export function delivered(address: string): Reply {
  return reply(250, '2.0.0', `<${address}> delivered`);
}

/**
 * The reply for a delivery that failed: the store's verdict where it has
 * one, otherwise a temporary failure (the sender keeps the message) and a
 * log line with the stack. An I/O error is never reported as anything else.
 */
export function deliveryFailure(err: unknown, log: Logger, address: string): Reply {
  if (isStoreError(err, 'OVERQUOTA')) return DELIVERY_REPLIES.overQuota;
  if (isStoreError(err, 'TOOBIG')) return DELIVERY_REPLIES.tooBig;
  if (isStoreError(err, 'STALE_EPOCH')) {
    log.warn({ user: address }, 'delivery refused: a newer owner holds this mailbox');
    return DELIVERY_REPLIES.notOwner;
  }
  // IO (logged by the store with its cause), CORRUPT, anything unexpected: temporary, with the stack here.
  log.error({ err, user: address }, 'delivery failed');
  return COMMON_REPLIES.internalError;
}
