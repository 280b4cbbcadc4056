import type { SMTPServerAddress } from 'smtp-server';
import type { PhaseContext } from '../common';
import type { Reply } from '../filters/types';
import type { Route } from '../routing/types';
import { SUBMISSION_REPLIES } from './replies';
import type { SubmissionDeps } from './types';

/** The routes each accepted recipient expanded to, for the data phase. */
export const recipientRoutes = new WeakMap<SMTPServerAddress, Route[]>();

/**
 * RCPT TO on submission: the router says where each recipient goes
 * (aliases and forwarding expanded first, RFC 5321 §3.9). A hosted domain
 * without that user is refused now (550 5.1.1); outside recipients need
 * the queue.
 */
export async function rcptTo(deps: SubmissionDeps, _ctx: PhaseContext, address: SMTPServerAddress): Promise<Reply | undefined> {
  const targets = deps.router.expand ? await deps.router.expand(address.address) : [address.address];
  const routes = await Promise.all(targets.map((t) => deps.router.route(t)));
  if (!routes.length || routes.some((r) => r.kind === 'unknown-user')) return SUBMISSION_REPLIES.unknownUser;
  if (!deps.queue && routes.some((r) => r.kind === 'remote')) return SUBMISSION_REPLIES.noQueue;
  recipientRoutes.set(address, routes);
  return undefined;
}
