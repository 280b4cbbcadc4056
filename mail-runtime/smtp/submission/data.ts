import addressparser from 'nodemailer/lib/addressparser';
import type { DirectoryUser } from '../../auth';
import {
  COMMON_REPLIES,
  SMTP_LIMITS,
  fieldValue,
  fieldsNamed,
  formatReply,
  isPermanent,
  newMessageId,
  parseHeader,
  receivedField,
  reply,
  returnPathField,
  rfc5322Date,
  takeDeliveryId,
  takeFolderHint,
  withFields,
  type HeaderField,
  type PhaseContext,
} from '../common';
import type { Reply } from '../filters/types';
import { delivered, deliveryFailure, DELIVERY_REPLIES } from '../lmtp';
import type { QueuedRecipient } from '../queue/types';
import type { LmtpTarget, Route } from '../routing/types';
import { recipientRoutes } from './rcpt-to';
import { SUBMISSION_REPLIES } from './replies';
import type { SubmissionDeps } from './types';

/**
 * DATA on submission (RFC 6409): check the From field, complete the
 * message, and hand it on — hosted recipients are delivered now (this
 * node's store, or LMTP to the owning node), the rest go to the queue.
 * 250 only once every recipient is durable somewhere: in a mailbox, or in
 * the queue on shared storage.
 *
 * No copy is saved into the user's Sent folder: mail clients save their own
 * copy through IMAP APPEND, and a second one here would double it (issue
 * 11: "a copy in Sent only if the client asks through IMAP (do not
 * double-save)").
 */
export async function data(deps: SubmissionDeps, ctx: PhaseContext, raw: Buffer): Promise<Reply> {
  const { session, conn } = ctx;
  const user = conn.user;
  if (!user || !session.envelope.mailFrom) return COMMON_REPLIES.internalError;
  const refusal = await checkFrom(deps, user, raw);
  if (refusal) {
    conn.log.warn({ user: user.address, reply: formatReply(refusal) }, 'message refused: From field');
    return refusal;
  }
  const mailFrom = session.envelope.mailFrom.address;
  const rcpts = session.envelope.rcptTo;
  const message = complete(deps, ctx, raw, rcpts.length === 1 ? rcpts[0]!.address : undefined);

  // Where each recipient goes (an alias may expand to several).
  const local = new Map<string, Route & { kind: 'local' }>();
  const remote = new Set<string>();
  for (const rcpt of rcpts) {
    for (const route of recipientRoutes.get(rcpt) ?? []) {
      if (route.kind === 'local') local.set(route.address, route);
      else if (route.kind === 'remote') remote.add(route.address);
    }
  }
  const results = await deliverHosted(deps, ctx, mailFrom, [...local.values()], message);
  const failed = [...results].filter(([, r]) => r.code >= 300);
  const deliveredCount = results.size - failed.length;

  // Nothing accepted anywhere and every failure permanent: say so now instead of bouncing later.
  if (!remote.size && deliveredCount === 0 && failed.length && failed.every(([, r]) => isPermanent(r))) {
    conn.log.info({ user: user.address, from: mailFrom, results: failed.map(([a, r]) => `${a}=${r.code}`) }, 'submission refused');
    return failed[0]![1];
  }
  const toQueue: QueuedRecipient[] = [
    ...[...remote].map((address): QueuedRecipient => ({ address, status: 'pending', attempts: 0 })),
    // The queue retries the temporary failures and bounces the permanent ones (a DSN to the sender).
    ...failed.map(([address, r]): QueuedRecipient => ({ address, status: 'pending', attempts: 1, lastReply: formatReply(r) })),
  ];
  let queueId: string | undefined;
  if (toQueue.length) {
    if (!deps.queue) {
      // Only hosted recipients failed (outside ones are refused at RCPT without a queue): the client retries.
      const temp = failed.find(([, r]) => !isPermanent(r));
      return (temp ?? failed[0]!)[1];
    }
    try {
      queueId = await deps.queue.enqueue(
        { mailFrom, recipients: toQueue, expiresAt: new Date(Date.now() + SMTP_LIMITS.queueLifetimeMs).toISOString(), origin: 'submission' },
        message,
      );
    } catch (err) {
      // Some hosted recipients may already have their copy: at least once, never lost.
      conn.log.error({ err, user: user.address }, 'queue refused a submitted message');
      return COMMON_REPLIES.internalError;
    }
  }
  conn.log.info(
    {
      user: user.address,
      from: mailFrom,
      size: message.length,
      delivered: deliveredCount,
      queued: toQueue.length,
      ...(queueId ? { queueId } : {}),
      results: [...results].map(([a, r]) => `${a}=${r.code}`),
    },
    'submission accepted',
  );
  return reply(250, '2.0.0', queueId ? `Ok: queued as ${queueId}` : 'Ok: delivered');
}

/**
 * RFC 6409 §6.3 lets the MSA refuse a message inconsistent with the user's
 * permissions. We refuse (550 5.7.1) a From: (or Sender:) naming an address
 * that is not the user's own or an alias, rather than accept or rewrite
 * it: the gateway DKIM-signs outgoing mail for our domains, so a forged
 * From: would leave with our signature and pass DMARC for a domain the user
 * does not speak for, and a hosted recipient would see another user's name.
 */
async function checkFrom(deps: SubmissionDeps, user: DirectoryUser, raw: Buffer): Promise<Reply | undefined> {
  const block = parseHeader(raw);
  const from = fieldsNamed(block, 'From');
  if (from.length !== 1) return SUBMISSION_REPLIES.badFrom;
  const addressesOf = (f: HeaderField): string[] => addressparser(fieldValue(raw, f), { flatten: true }).map((a) => a.address);
  const fromAddresses = addressesOf(from[0]!);
  if (!fromAddresses.length || fromAddresses.some((a) => !a)) return SUBMISSION_REPLIES.badFrom;
  for (const address of [...fromAddresses, ...fieldsNamed(block, 'Sender').flatMap(addressesOf)]) {
    const owner = address ? await deps.directory.lookup(address) : null;
    if (owner?.address !== user.address) return SUBMISSION_REPLIES.fromNotOwned(address, user.address);
  }
  return undefined;
}

/**
 * The message as it leaves the MSA: our Received on top (RFC 5321 §4.4),
 * Date and Message-ID added when the client left them out (RFC 6409 §8.2,
 * §8.3), and any folder hint or delivery id taken out (only a gateway sets them).
 */
function complete(deps: SubmissionDeps, ctx: PhaseContext, raw: Buffer, single: string | undefined): Buffer {
  const { session, conn } = ctx;
  // Neither a folder hint nor a delivery id (../common/delivery-id.ts) is a client's to set.
  let message = takeDeliveryId(takeFolderHint(raw).message).message;
  const block = parseHeader(message);
  const missing: string[] = [];
  if (!fieldsNamed(block, 'Date').length) missing.push(`Date: ${rfc5322Date()}`);
  if (!fieldsNamed(block, 'Message-ID').length) missing.push(`Message-ID: ${newMessageId(deps.hostname)}`);
  message = withFields(message, block.end, missing);
  return withFields(message, 0, [
    receivedField({
      helo: session.hostNameAppearsAs,
      remoteIp: conn.remoteIp,
      by: deps.hostname,
      with: session.transmissionType,
      id: conn.id,
      ...(single ? { for: single } : {}),
    }),
  ]);
}

/**
 * Delivers to hosted mailboxes: into this node's store when it serves the
 * mailbox, else over LMTP to the node the route names. A route to this node
 * for a mailbox it does not serve (placement is moving it) is a temporary
 * failure, which the caller hands to the queue.
 */
async function deliverHosted(
  deps: SubmissionDeps,
  ctx: PhaseContext,
  mailFrom: string,
  routes: readonly (Route & { kind: 'local' })[],
  message: Buffer,
): Promise<Map<string, Reply>> {
  const results = new Map<string, Reply>();
  const mine: string[] = [];
  const byPeer = new Map<string, { target: LmtpTarget; recipients: string[] }>();
  for (const route of routes) {
    if (route.node.memberId === deps.memberId) mine.push(route.address);
    else {
      const key = `${route.node.memberId}\u0000${route.node.host}:${route.node.port}`;
      const p = byPeer.get(key) ?? { target: route.node, recipients: [] };
      p.recipients.push(route.address);
      byPeer.set(key, p);
    }
  }
  const final = withFields(message, 0, [returnPathField(mailFrom)]);
  await Promise.all([
    ...mine.map(async (address) => {
      try {
        if (!(await deps.owns(address))) return results.set(address, DELIVERY_REPLIES.notOwner);
        const user = await deps.directory.lookup(address);
        if (!user) return results.set(address, DELIVERY_REPLIES.unknownUser);
        await deps.delivery.deliver(user, final, { folder: 'inbox' });
        return results.set(address, delivered(user.address));
      } catch (err) {
        return results.set(address, deliveryFailure(err, ctx.conn.log, address));
      }
    }),
    ...[...byPeer.values()].map(async ({ target, recipients }) => {
      try {
        for (const [address, r] of await deps.peers.deliver(target, mailFrom, recipients, message)) results.set(address, r);
      } catch (err) {
        ctx.conn.log.error({ err, peer: target.memberId }, 'LMTP to the owning node failed');
        for (const address of recipients) results.set(address, COMMON_REPLIES.internalError);
      }
    }),
  ]);
  return results;
}
