import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';

/**
 * Trace and identity fields the node adds: Received (RFC 5321 §4.4) on
 * every hop, Return-Path at final delivery (RFC 5321 §4.4), and Date and
 * Message-ID on submission when the client left them out (RFC 6409 §8.2,
 * §8.3).
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in UTC with a numeric zone (`+0000`, not the obsolete `GMT`). */
export function rfc5322Date(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** RFC 5322 §3.6.4 msg-id: random left part, our host name on the right. */
export function newMessageId(hostname: string): string {
  return `<${randomBytes(12).toString('hex')}@${hostname}>`;
}

/** RFC 5321 §4.1.3 address literal: `[192.0.2.1]`, `[IPv6:2001:db8::1]`. */
export function addressLiteral(ip: string): string {
  return isIPv6(ip) ? `[IPv6:${ip}]` : `[${ip}]`;
}

export interface ReceivedInfo {
  /** The client's EHLO/LHLO argument (smtp-server has checked its syntax). */
  helo: string;
  remoteIp: string;
  /** Our host name. */
  by: string;
  /** RFC 3848 protocol keyword: ESMTPSA, LMTP, … (smtp-server's `transmissionType`). */
  with: string;
  /** Session id, so the header leads to our log lines. */
  id: string;
  /** Only when the message has one recipient (RFC 5321 §4.4: more would disclose Bcc recipients). */
  for?: string;
  date?: Date;
}

/** `Received: from … by … with … id …; date` (RFC 5321 §4.4), folded. */
export function receivedField(r: ReceivedInfo): string {
  const forPart = r.for ? `\r\n\tfor <${r.for}>` : '';
  return `Received: from ${r.helo} (${addressLiteral(r.remoteIp)})\r\n\tby ${r.by} (mailfleet) with ${r.with} id ${r.id}${forPart};\r\n\t${rfc5322Date(r.date)}`;
}

/** `Return-Path: <reverse-path>`, written by the final delivery (RFC 5321 §4.4); `<>` for the null sender. */
export function returnPathField(mailFrom: string): string {
  return `Return-Path: <${mailFrom}>`;
}
