import type { SMTPServerSession } from 'smtp-server';
import { clientIp, judge, type InboundContext, type InboundSession } from './context';
import { runFilters } from '../filters';

/**
 * Phase `connect`: the connection was admitted at accept time (server.ts,
 * the admission hook); here the connect filters (DNSBL, allowlists, rate
 * limits a filter keeps) judge the client before it gets its 220. A refusal
 * is sent instead of the greeting and the connection closed (smtp-server
 * `_refuse`). Clients that talk before the greeting are cut off by
 * smtp-server itself (`421 You talk too soon`, RFC 5321 §4.3.1: the client
 * waits for the greeting).
 */
export async function connectPhase(ctx: InboundContext, smtp: SMTPServerSession): Promise<InboundSession> {
  const ip = clientIp(smtp);
  const info = {
    id: smtp.id,
    // The relay listener takes members' submitted mail: filters see it as submission.
    listener: ctx.relay ? ('submission' as const) : ('mx' as const),
    remoteIp: ip,
    remotePort: smtp.remotePort,
    ...(smtp.clientHostname && !smtp.clientHostname.startsWith('[') ? { clientHostname: smtp.clientHostname } : {}),
    secure: smtp.secure,
  };
  const log = ctx.log.child({ cid: smtp.id, ip });
  const session: InboundSession = { info, log, maxMessageBytes: ctx.maxMessageBytes, heloJudged: undefined, connectionHeaders: [], tx: undefined };
  const outcome = await runFilters(ctx.filters, { phase: 'connect', session: info, envelope: { mailFrom: '', rcptTo: [] }, log });
  // A discard before any message means nothing: the connection goes on.
  judge(outcome.verdict);
  session.connectionHeaders.push(...outcome.headers);
  log.debug({ notes: outcome.notes }, 'connection accepted');
  return session;
}
