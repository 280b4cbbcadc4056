import { randomBytes } from 'node:crypto';
import { OUTBOUND_LIMITS } from './limits';
import type { QueueEntry, QueuedRecipient } from '../queue/types';
import { splitMessage } from './headers';

/**
 * Delivery Status Notifications (RFC 3464 inside an RFC 6522
 * multipart/report): the message the gateway queues back to the sender
 * when recipients failed for good (or, as a warning, are still delayed).
 */

export interface DsnRecipient extends Pick<QueuedRecipient, 'address' | 'lastReply'> {
  /** The host whose reply `lastReply` is (Remote-MTA, RFC 3464 §2.3.5). */
  remoteMta?: string;
}

export interface DsnOptions {
  /** Our host name (Reporting-MTA, RFC 3464 §2.2.2; also the MAILER-DAEMON address). */
  reportingMta: string;
  /** When we accepted the message (Arrival-Date, §2.2.5). */
  arrivalDate: Date;
  /** Now, for Date and Last-Attempt-Date. */
  now?: Date;
  /** The entry ran out of time (RFC 3463 4.4.7 when no reply says more). */
  expired?: boolean;
}

/** A DSN ready to queue: null reverse path (RFC 5321 §4.5.5, RFC 3461 §6.2), to the original sender. */
export interface DsnMessage {
  mailFrom: '';
  to: string;
  message: Buffer;
}

/** Failed recipients → a DSN to the sender; null when the sender is the null sender (a DSN never answers a DSN). */
export function buildDsn(entry: QueueEntry, failed: readonly DsnRecipient[], original: Buffer, opts: DsnOptions): DsnMessage | null {
  return build(entry, failed, original, { ...opts, action: 'failed' });
}

/** A delay warning (Action: delayed, RFC 3464 §2.3.3) for recipients still being retried; headers only are returned. */
export function buildDelayDsn(entry: QueueEntry, delayed: readonly DsnRecipient[], original: Buffer, opts: DsnOptions & { willRetryUntil: Date }): DsnMessage | null {
  return build(entry, delayed, original, { ...opts, action: 'delayed' });
}

type Action = 'failed' | 'delayed';

function build(entry: QueueEntry, recipients: readonly DsnRecipient[], original: Buffer, opts: DsnOptions & { action: Action; willRetryUntil?: Date }): DsnMessage | null {
  if (entry.mailFrom === '') return null;
  if (!recipients.length) throw new RangeError('a DSN reports at least one recipient');
  const now = opts.now ?? new Date();
  const mta = opts.reportingMta;
  const boundary = `=_dsn_${randomBytes(12).toString('hex')}`;

  // RFC 3461 §4.3: RET=HDRS asks for headers only; a delay warning returns
  // headers only; a full return is bounded (OUTBOUND_LIMITS.dsnReturnBytes).
  const full = opts.action === 'failed' && entry.dsn?.ret !== 'HDRS' && original.length <= OUTBOUND_LIMITS.dsnReturnBytes;
  const returned = full ? original : splitMessage(original).head;
  const eightBit = returned.some((b) => b > 0x7f);

  const perMessage = [`Reporting-MTA: dns; ${mta}`];
  const envid = entry.dsn?.envid;
  if (envid !== undefined) perMessage.push(`Original-Envelope-Id: ${fieldText(envid)}`);
  perMessage.push(`Arrival-Date: ${rfc5322Date(opts.arrivalDate)}`);

  const perRecipient = recipients.map((r) => {
    const f = [`Final-Recipient: rfc822; ${r.address}`, `Action: ${opts.action}`, `Status: ${statusOf(r.lastReply, opts.action, opts.expired)}`];
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${r.remoteMta}`);
    if (r.lastReply) f.push(`Diagnostic-Code: smtp; ${fieldText(r.lastReply)}`);
    f.push(`Last-Attempt-Date: ${rfc5322Date(now)}`);
    if (opts.action === 'delayed' && opts.willRetryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(opts.willRetryUntil)}`);
    return f.join('\r\n');
  });

  const human =
    opts.action === 'failed'
      ? [
          `This is the mail system at ${mta}.`,
          '',
          opts.expired ? 'Your message could not be delivered in the time allowed to the recipients below.' : 'Your message could not be delivered to the recipients below. This is a permanent error.',
        ]
      : [`This is the mail system at ${mta}.`, '', `Your message has not been delivered yet to the recipients below. Delivery will be retried${opts.willRetryUntil ? ` until ${rfc5322Date(opts.willRetryUntil)}` : ''}; you do not need to send it again.`];
  for (const r of recipients) human.push('', `<${r.address}>: ${r.lastReply ? fieldText(r.lastReply) : opts.expired ? 'delivery time expired' : 'undeliverable'}`);

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${mta}>`,
    `To: <${entry.mailFrom}>`,
    `Subject: ${opts.action === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${entry.id}.${now.getTime()}.${opts.action}@${mta}>`,
    // RFC 3834 §5: automatic replies must not trigger further automatic replies.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Description: Notification',
    '',
    ...human,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    perMessage.join('\r\n'),
    '',
    perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    full ? 'Content-Type: message/rfc822' : 'Content-Type: text/rfc822-headers',
    `Content-Description: ${full ? 'Undelivered Message' : 'Undelivered Message Headers'}`,
    ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
    '',
  ].join('\r\n');
  const tail = `${returned.length && !returned.toString('latin1').endsWith('\n') ? '\r\n' : ''}\r\n--${boundary}--\r\n`;
  return { mailFrom: '', to: entry.mailFrom, message: Buffer.concat([Buffer.from(head, 'latin1'), returned, Buffer.from(tail, 'latin1')]) };
}

/**
 * Status (RFC 3464 §2.3.4, codes of RFC 3463): the enhanced code of the
 * reply when it has one, else the reply's class; an expired entry without
 * a reply is 4.4.7 (delivery time expired).
 */
function statusOf(reply: string | undefined, action: Action, expired?: boolean): string {
  const m = /^([245])\d\d(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?/.exec(reply ?? '');
  if (m?.[2]) return m[2];
  if (m?.[1]) return `${m[1]}.0.0`;
  if (expired || action === 'delayed') return '4.4.7';
  return '5.0.0';
}

/** Header-safe text: one line, printable ASCII. */
function fieldText(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
}

/** RFC 5322 §3.3 date-time in UTC. */
function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}
