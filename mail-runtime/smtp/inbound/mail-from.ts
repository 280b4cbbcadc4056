import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { judge, type InboundContext, type InboundSession } from './context';
import { REPLIES } from './reply';
import { runFilters } from '../filters';
import { NoPlacementError } from '../routing';

/**
 * Phase `helo`: smtp-server has no hook at EHLO/HELO, so the helo filters
 * judge the name the client gave at its first MAIL after it (a refusal
 * there reads as "not from you", which is what a HELO check means).
 */
async function heloPhase(ctx: InboundContext, s: InboundSession, smtp: SMTPServerSession): Promise<void> {
  const helo = smtp.hostNameAppearsAs || undefined;
  if (helo === s.heloJudged) return;
  s.info.helo = helo;
  const outcome = await runFilters(ctx.filters, { phase: 'helo', session: s.info, envelope: { mailFrom: '', rcptTo: [] }, log: s.log });
  judge(outcome.verdict);
  s.heloJudged = helo;
  s.connectionHeaders.push(...outcome.headers);
}

/**
 * Outbound checks of relayed mail: the envelope sender must be in a hosted
 * domain (the node already checked it belongs to the user; a member that
 * sends anything else is not relaying for our users). A mailbox without a
 * live owner is still ours; a directory fault is our fault (451).
 */
async function requireHostedSender(ctx: InboundContext, sender: string): Promise<void> {
  if (!sender.includes('@')) throw REPLIES.senderNotHosted(sender);
  let route;
  try {
    route = await ctx.router.route(sender);
  } catch (err) {
    if (err instanceof NoPlacementError) return;
    throw err;
  }
  if (route.kind === 'remote') throw REPLIES.senderNotHosted(sender);
}

/**
 * Phase `mail-from`: the per-address message rate (RuntimeConfig
 * `inbound.messagesPerAddressPerMinute`) — on the relay listener the
 * sender check and the logged-in member's rate
 * (`inbound.relayMessagesPerMemberPerMinute`) instead — then the mail-from
 * filters (SPF…).
 * SIZE= above the limit was already answered 552 5.3.4 by smtp-server
 * (RFC 1870 §6), and sender syntax 501 5.1.7.
 */
export async function mailFromPhase(ctx: InboundContext, s: InboundSession, from: SMTPServerAddress, smtp: SMTPServerSession): Promise<void> {
  s.info.secure = smtp.secure;
  if (ctx.relay && smtp.user !== undefined) {
    // The relay listener: the rate is the logged-in member's, and only our own senders leave through it.
    await requireHostedSender(ctx, from.address);
    if (!ctx.messageRate.take(`member:${smtp.user}`)) throw REPLIES.memberRateLimited(smtp.user);
  } else if (!ctx.messageRate.take(s.info.remoteIp)) throw REPLIES.rateLimited();
  await heloPhase(ctx, s, smtp);
  const declared = from.args && typeof from.args.SIZE === 'string' ? Number(from.args.SIZE) : undefined;
  const outcome = await runFilters(ctx.filters, {
    phase: 'mail-from',
    session: s.info,
    envelope: { mailFrom: from.address, rcptTo: [], ...(declared !== undefined ? { declaredSize: declared } : {}) },
    log: s.log,
  });
  judge(outcome.verdict);
  s.tx = { number: smtp.transaction, recipients: new Map(), headers: [...outcome.headers], ...(outcome.folder ? { folder: outcome.folder } : {}) };
}
