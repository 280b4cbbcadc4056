import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { cidrContains } from '../../config';
import { DirectoryUnavailableError, NoPlacementError, type Route } from '../routing';
import { judge, type InboundContext, type InboundSession } from './context';
import { REPLIES, SmtpReply } from './reply';
import { runFilters } from '../filters';

/**
 * Relay (RFC 5321 §3.9, RFC 2505: never open): a cluster member logged in on
 * the relay listener (smtp-server sets `user` only after our onAuth accepted
 * the cluster token; the MX has no AUTH), or unauthenticated from
 * RuntimeConfig `relayNetworks` (IPv4 CIDRs).
 */
function mayRelay(ctx: InboundContext, ip: string, smtp: SMTPServerSession): boolean {
  if (ctx.relay && smtp.user !== undefined) return true;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  return ctx.relayNetworks.some((cidr) => cidrContains(cidr, ip));
}

/**
 * The address an SRS0/SRS1 recipient of our SRS domain stands for, or
 * undefined for any other recipient. A hash that does not verify or an
 * address past `outbound.srs.maxAgeDays` is no mailbox of ours: 550 5.1.1
 * (libsrs2 and postsrsd refuse them too), so forged addresses cannot make
 * us a relay.
 */
function srsReverse(ctx: InboundContext, s: InboundSession, address: string): string | undefined {
  if (!ctx.srs?.isOurs(address)) return undefined;
  try {
    const original = ctx.srs.reverse(address);
    s.log.info({ rcpt: address, to: original }, 'SRS address reversed');
    return original;
  } catch (err) {
    s.log.info({ rcpt: address, reason: (err as Error).message }, 'SRS address refused');
    throw REPLIES.unknownUser(address);
  }
}

/**
 * Phase `rcpt-to`: where the recipient goes decides the answer. A hosted
 * domain needs a user in the directory (else 550 5.1.1) and a node placed
 * for it (else 451 4.3.0: try later); any other domain is relay, allowed only
 * from relayNetworks (else 550 5.7.1). Then the rcpt-to filters. The
 * recipient limit (RFC 5321 §4.5.3.1.8) was applied by smtp-server (452 4.5.3).
 */
export async function rcptToPhase(ctx: InboundContext, s: InboundSession, to: SMTPServerAddress, smtp: SMTPServerSession): Promise<void> {
  const tx = s.tx;
  if (!tx || tx.number !== smtp.transaction) throw new SmtpReply(503, '5.5.1', 'need MAIL command');
  // RFC 5321 §4.5.5 bounces of mail we forwarded come back to its SRS envelope sender: they go to the address it rewrote.
  const srsTarget = srsReverse(ctx, s, to.address);
  const asked = srsTarget ?? to.address;
  // RFC 5321 §3.9: an alias (or a mailbox that forwards) expands before routing; each target is routed and queued.
  let targets: readonly string[];
  let routes: Route[];
  try {
    targets = srsTarget === undefined && ctx.router.expand ? await ctx.router.expand(asked) : [asked];
    routes = await Promise.all(targets.map((t) => ctx.router.route(t)));
  } catch (err) {
    if (err instanceof NoPlacementError) {
      s.log.warn({ rcpt: to.address }, err.message);
      throw REPLIES.noPlacement(to.address);
    }
    if (err instanceof DirectoryUnavailableError) {
      s.log.warn({ rcpt: to.address, err: err.cause }, err.message);
      throw REPLIES.directoryUnavailable(to.address);
    }
    throw err;
  }
  const deliverable = routes.filter((r) => r.kind !== 'unknown-user');
  if (!deliverable.length) throw REPLIES.unknownUser(to.address);
  if (deliverable.length < routes.length) s.log.warn({ rcpt: to.address, unknown: routes.filter((r) => r.kind === 'unknown-user').map((r) => r.address) }, 'alias targets without a mailbox skipped');
  // Relay is a recipient outside our domains as written; a remote target our directory expanded to is forwarding, not relay.
  const expanded = targets.length !== 1 || targets[0]!.toLowerCase() !== asked.toLowerCase();
  if (!expanded && deliverable[0]!.kind === 'remote' && srsTarget === undefined && !mayRelay(ctx, s.info.remoteIp, smtp)) throw REPLIES.relayDenied(to.address);
  const accepted = [...new Set([...tx.recipients.values()].map((r) => r.given))];
  const outcome = await runFilters(ctx.filters, {
    phase: 'rcpt-to',
    session: s.info,
    envelope: { mailFrom: smtp.envelope.mailFrom ? smtp.envelope.mailFrom.address : '', rcptTo: accepted },
    recipient: to.address,
    log: s.log,
  });
  judge(outcome.verdict);
  tx.headers.push(...outcome.headers);
  const given = to.address.toLowerCase();
  for (const k of [...tx.recipients.keys()]) if (k.split('\0')[0] === given) tx.recipients.delete(k);
  for (const route of deliverable) {
    // A remote local-part keeps its case (RFC 5321 §2.4: only the destination may fold it); a hosted one is our mailbox's name.
    const address = route.kind === 'remote' ? (expanded ? route.address : asked) : route.address;
    tx.recipients.set(`${given}\0${address.toLowerCase()}`, { given: to.address, address, ...(outcome.folder ? { folder: outcome.folder } : {}), ...(route.kind === 'remote' ? { remote: true } : {}) });
  }
}
