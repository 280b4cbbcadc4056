import type { SMTPServerAddress } from 'smtp-server';
import type { DirectoryUser } from '../../auth';
import type { PhaseContext } from '../common';
import type { Reply } from '../filters/types';
import { DELIVERY_REPLIES } from './replies';
import type { LmtpDeps } from './types';

/** The mailbox each accepted recipient resolved to (an alias resolves to its user), for the data phase. */
export const recipientUsers = new WeakMap<SMTPServerAddress, DirectoryUser>();

/**
 * LMTP RCPT TO (RFC 2033 §4.2): unknown user → 550 5.1.1 now; a mailbox
 * this node does not serve → 450 4.2.0, so the gateway retries against
 * the owner. Ownership is asked again at delivery: it can move in between.
 */
export async function rcptTo(deps: LmtpDeps, ctx: PhaseContext, address: SMTPServerAddress): Promise<Reply | undefined> {
  const user = await deps.directory.lookup(address.address);
  if (!user) return DELIVERY_REPLIES.unknownUser;
  if (!(await deps.owns(user.address))) {
    ctx.conn.log.info({ rcpt: address.address, user: user.address }, 'recipient refused: mailbox not served here');
    return DELIVERY_REPLIES.notOwner;
  }
  recipientUsers.set(address, user);
  return undefined;
}
