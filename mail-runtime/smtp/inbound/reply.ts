import type { Reply } from '../filters/types';

/**
 * An SMTP reply as an error a phase throws: basic code (RFC 5321 §4.2) and
 * enhanced status (RFC 3463). smtp-server sends `responseCode` and the
 * message; the message starts with the enhanced code, which our connection
 * class (server.ts) sends as is instead of smtp-server's per-code guess.
 */
export class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(
    readonly code: number,
    readonly enhanced: string,
    readonly text: string,
  ) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpReply';
    this.responseCode = code;
  }

  static from(reply: Reply): SmtpReply {
    return new SmtpReply(reply.code, reply.enhanced, reply.text);
  }

  /** `550 5.7.1 text`, as the client sees it (logs, queue lastReply). */
  get line(): string {
    return `${this.code} ${this.enhanced} ${this.text}`;
  }
}

/** A reply text begins with an enhanced status code (RFC 3463 §2): `class.subject.detail`. */
export const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/** The replies the MX gives of its own accord, by the reason they are given. */
export const REPLIES = {
  /** RFC 5321 §3.6.2, RFC 3463 5.7.1 "delivery not authorized": not a hosted domain and the client may not relay. */
  relayDenied: (rcpt: string) => new SmtpReply(550, '5.7.1', `<${rcpt}>: relay access denied`),
  /** RFC 3463 5.1.1 "bad destination mailbox address": a hosted domain without that user. */
  unknownUser: (rcpt: string) => new SmtpReply(550, '5.1.1', `<${rcpt}>: recipient address rejected: user unknown`),
  /** A hosted mailbox no node is placed for (yet): try later, nothing is accepted that has nowhere to go. */
  /** RFC 3463 4.4.3 "directory server failure": whether the user exists is unknown now (hub away, never asked about it); the sender retries. */
  directoryUnavailable: (rcpt: string) => new SmtpReply(450, '4.4.3', `<${rcpt}>: recipient cannot be verified now, try again later`),
  noPlacement: (rcpt: string) => new SmtpReply(451, '4.3.0', `<${rcpt}>: mailbox temporarily unavailable, try again later`),
  /** RFC 5321 §2.3.8: CR and LF only as CRLF. Bare ones are how SMTP smuggling hides a second message (CVE-2023-51764/-51765/-51766). */
  bareLineEnding: () => new SmtpReply(554, '5.6.0', 'message refused: bare CR or LF in the data (RFC 5321 §2.3.8: lines end with CRLF)'),
  /** RFC 5321 §4.5.3.1.6 allows 1000 octets; see INBOUND_LIMITS.textLineBytes. */
  lineTooLong: (max: number) => new SmtpReply(554, '5.6.0', `message refused: a line is longer than ${max} octets (RFC 5321 §4.5.3.1.6)`),
  /** RFC 1870 §6, RFC 3463 5.3.4 "message too big for system". */
  tooBig: (max: number) => new SmtpReply(552, '5.3.4', `message exceeds fixed maximum message size ${max}`),
  /** Messages from one address per minute (RuntimeConfig inbound.messagesPerAddressPerMinute); RFC 3463 4.7.1. */
  rateLimited: () => new SmtpReply(450, '4.7.1', 'too much mail from your address, try again later'),
  /** The relay listener: one member over inbound.relayMessagesPerMemberPerMinute (RFC 3463 4.7.1, temporary). */
  memberRateLimited: (member: string) => new SmtpReply(451, '4.7.1', `member ${member} is over its relay message rate, try again later`),
  /** The relay listener relays only our own senders (RFC 5321 §3.9, RFC 3463 5.7.1): a sender outside the hosted domains is no user of ours. */
  senderNotHosted: (sender: string) => new SmtpReply(550, '5.7.1', `<${sender}>: sender is not in a hosted domain, not relayed`),
  /** RFC 4954 §6: too many failed AUTHs from this address; refused without checking (454 4.7.0, temporary). */
  authThrottled: () => new SmtpReply(454, '4.7.0', 'too many failed logins from your address, try again later'),
  /** Any fault of ours: the sender keeps the message and retries (RFC 5321 §4.2.5). Logged with its stack. */
  internal: () => new SmtpReply(451, '4.3.0', 'local error in processing, try again later'),
  /** The queue refused (full disk, fenced after a takeover): nothing was accepted. */
  queueUnavailable: () => new SmtpReply(451, '4.3.0', 'queue unavailable, try again later'),
} as const;

/** RFC 5321 §4.2.5 / RFC 3463 4.3.2 "system not accepting network messages": every slot is taken. */
export function tooBusy(hostname: string): string {
  return `421 4.3.2 ${hostname} too busy, try again later\r\n`;
}

/** RFC 3463 4.7.0: this address holds its share of connections already. */
export function tooManyFromAddress(hostname: string): string {
  return `421 4.7.0 ${hostname} too many connections from your address, try again later\r\n`;
}
