import { Readable } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { applyHeaderEdits, runFilters, type MessageView } from '../filters';
import { takeFolderHint } from '../common';
import { newQueueId, type QueuedRecipient } from '../queue';
import { judge, type AcceptedRecipient, type InboundContext, type InboundSession } from './context';
import { DataGuard } from './data-guard';
import { receivedHeader } from './headers';
import { REPLIES, SmtpReply } from './reply';

function messageView(message: Buffer): MessageView {
  return { size: message.length, bytes: () => Promise.resolve(message), stream: () => Readable.from([message]) };
}

/**
 * Mail from a sender of a domain we do not host, relayed (from
 * relayNetworks: a node forwarding a user's mail, an application) to
 * another domain: forwarding. Its envelope sender gets SRS at the outbound
 * transport (outbound.srs), or SPF would fail at the next hop, which sees
 * our address for a domain that did not authorise us.
 */
async function isForwarded(ctx: InboundContext, mailFrom: string, recipients: Iterable<AcceptedRecipient>): Promise<boolean> {
  if (mailFrom === '' || ![...recipients].some((r) => r.remote)) return false;
  try {
    return (await ctx.router.route(mailFrom)).kind === 'remote';
  } catch {
    // No placement for a hosted sender: hosted, not forwarded.
    return false;
  }
}

/**
 * Phase `data`: reads the message (bounded by limits.maxMessageBytes: beyond
 * it nothing more is kept and smtp-server answers 552 5.3.4, RFC 1870 §6),
 * refuses bare CR/LF and overlong lines (data-guard.ts), prepends our
 * Received field (RFC 5321 §4.4), lets the data filters judge it, applies
 * their header edits and hands it to the queue. Resolves with the text of
 * the 250 reply, which is sent only after the queue has it durably.
 */
export async function dataPhase(ctx: InboundContext, s: InboundSession, stream: SMTPServerDataStream, smtp: SMTPServerSession): Promise<string> {
  const guard = new DataGuard(ctx.maxLineBytes);
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    guard.push(chunk);
    // Past the limit, or once refused: keep reading (smtp-server needs the terminator) but keep nothing.
    if (guard.violation || kept + chunk.length > s.maxMessageBytes) continue;
    chunks.push(chunk);
    kept += chunk.length;
  }
  guard.end();
  if (stream.sizeExceeded || stream.byteLength > s.maxMessageBytes) throw REPLIES.tooBig(s.maxMessageBytes);
  if (guard.violation === 'bare-cr' || guard.violation === 'bare-lf') {
    s.log.info({ violation: guard.violation }, 'message refused: bare line ending (SMTP smuggling defence)');
    throw REPLIES.bareLineEnding();
  }
  if (guard.violation === 'line-too-long') throw REPLIES.lineTooLong(ctx.maxLineBytes);

  const tx = s.tx;
  if (!tx || tx.number !== smtp.transaction || tx.recipients.size === 0) throw new SmtpReply(503, '5.5.1', 'need RCPT command');
  const mailFrom = smtp.envelope.mailFrom ? smtp.envelope.mailFrom.address : '';
  const given = smtp.envelope.rcptTo.map((r) => r.address);
  const id = newQueueId();
  const received = receivedHeader({
    helo: s.info.helo ?? (smtp.hostNameAppearsAs || undefined),
    clientHostname: s.info.clientHostname,
    remoteIp: s.info.remoteIp,
    by: ctx.hostname,
    protocol: smtp.transmissionType,
    id,
    recipients: given,
    date: new Date(),
  });
  // Only our filters choose a folder (../common/folder-hint.ts): a hint field from outside is removed before they run.
  const hint = takeFolderHint(Buffer.concat(chunks, kept));
  if (hint.folder || hint.ignored.length) s.log.info({ planted: hint.folder ?? hint.ignored }, 'folder hint from the sender removed');
  let message: Buffer = Buffer.concat([received, hint.message]);

  const outcome = await runFilters(ctx.filters, {
    phase: 'data',
    session: s.info,
    envelope: { mailFrom, rcptTo: given },
    message: messageView(message),
    log: s.log,
  });
  if (judge(outcome.verdict) === 'discard') {
    const reason = outcome.verdict.kind === 'discard' ? outcome.verdict.reason : '';
    s.log.info({ from: mailFrom, rcpts: given.length, reason, notes: outcome.notes }, 'message discarded by a filter');
    ctx.metrics?.outcome('discarded', 'data');
    return 'Ok: message accepted';
  }
  message = applyHeaderEdits(message, [...s.connectionHeaders, ...tx.headers, ...outcome.headers]);

  // One copy per mailbox: two aliases of one user are one delivery.
  const recipients = new Map<string, QueuedRecipient>();
  for (const r of tx.recipients.values()) {
    const key = r.address.toLowerCase();
    if (recipients.has(key)) continue;
    const folder = r.folder ?? tx.folder ?? outcome.folder;
    recipients.set(key, { address: r.address, status: 'pending', attempts: 0, ...(folder ? { folder } : {}) });
  }
  // A member's relayed submission is our users' mail: it leaves DKIM-signed (outbound signs `submission`); forwarded mail gets SRS.
  const origin = (await isForwarded(ctx, mailFrom, tx.recipients.values())) ? 'forward' : ctx.relay && smtp.user !== undefined ? 'submission' : 'mx';
  try {
    await ctx.queue.enqueue(
      { id, mailFrom, recipients: [...recipients.values()], expiresAt: new Date(Date.now() + ctx.expireMs).toISOString(), origin },
      message,
    );
  } catch (err) {
    s.log.error({ err }, 'queue refused the message');
    throw REPLIES.queueUnavailable();
  }
  s.log.info({ queueId: id, from: mailFrom, rcpts: recipients.size, size: message.length, notes: outcome.notes }, 'message queued');
  ctx.metrics?.outcome('accepted', 'data');
  return `Ok: queued as ${id}`;
}
