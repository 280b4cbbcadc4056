import type { SMTPServerAddress } from 'smtp-server';
import type { PhaseContext } from '../common';
import type { Reply } from '../filters/types';
import { SUBMISSION_REPLIES } from './replies';
import type { SubmissionDeps } from './types';

/**
 * MAIL FROM on submission (RFC 6409 §6.1, enforce submission rights): the
 * reverse path must be the authenticated user's own address or one of its
 * aliases — an address the directory resolves to that same user. Anything
 * else is 553 5.7.1; so is the null sender, which only bounces may use
 * (RFC 5321 §4.5.5) and users do not send bounces.
 */
export async function mailFrom(deps: SubmissionDeps, ctx: PhaseContext, address: SMTPServerAddress): Promise<Reply | undefined> {
  const user = ctx.conn.user;
  if (!user) return SUBMISSION_REPLIES.authRequired;
  if (!address.address) return SUBMISSION_REPLIES.nullSender;
  const owner = await deps.directory.lookup(address.address);
  if (owner?.address !== user.address) {
    ctx.conn.log.warn({ user: user.address, sender: address.address }, 'sender refused: not the user’s address');
    return SUBMISSION_REPLIES.senderNotOwned(address.address, user.address);
  }
  return undefined;
}
