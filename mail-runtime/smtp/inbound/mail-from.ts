import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { judge, type InboundContext, type InboundSession } from './context';
import { REPLIES } from './reply';
import { runFilters } from '../filters';

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
 * Phase `mail-from`: the per-address message rate (RuntimeConfig
 * `inbound.messagesPerAddressPerMinute`), then the mail-from filters (SPF…).
 * SIZE= above the limit was already answered 552 5.3.4 by smtp-server
 * (RFC 1870 §6), and sender syntax 501 5.1.7.
 */
export async function mailFromPhase(ctx: InboundContext, s: InboundSession, from: SMTPServerAddress, smtp: SMTPServerSession): Promise<void> {
  s.info.secure = smtp.secure;
  if (!ctx.messageRate.take(s.info.remoteIp)) throw REPLIES.rateLimited();
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
