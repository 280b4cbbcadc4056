import type { Reply } from '../filters/types';

/**
 * An SMTP reply (RFC 5321 §4.2) with its enhanced status code (RFC 3463),
 * as the Error smtp-server's handler callbacks take: `responseCode` is the
 * basic code and the message starts with the enhanced code, which our
 * connection class (./server.ts) moves into its place on the reply line,
 * so that `553 5.7.1 …` goes out as written instead of the library's
 * one-per-basic-code default (`553 5.1.3`).
 */
export class SmtpReplyError extends Error {
  readonly responseCode: number;
  readonly reply: Reply;
  constructor(reply: Reply) {
    super(`${reply.enhanced} ${reply.text}`);
    this.name = 'SmtpReplyError';
    this.responseCode = reply.code;
    this.reply = reply;
  }
}

/** `{ code, enhanced, text }`, checked: the class digit of both codes must agree (RFC 3463 §2). */
export function reply(code: number, enhanced: string, text: string): Reply {
  if (!/^[245]\.\d{1,3}\.\d{1,3}$/.test(enhanced) || String(code)[0] !== enhanced[0]) {
    throw new RangeError(`reply ${code} cannot carry enhanced status ${enhanced}`);
  }
  return { code, enhanced, text };
}

/** The reply as one line without CRLF, e.g. for a queue entry's lastReply or a log field. */
export function formatReply(r: Reply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

/**
 * A reply line from a peer (`450 4.2.0 text`), as nodemailer reports it in
 * an error's `response`; a line without an enhanced code gets the class's
 * generic one (RFC 3463 §3.1 X.0.0). Anything unparseable is a temporary
 * failure: mail is retried, never dropped on a misread.
 */
export function parseReplyLine(line: string | undefined): Reply {
  const m = /^([245]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3}) )?(.*)$/s.exec((line ?? '').trim());
  if (!m) return { code: 451, enhanced: '4.4.0', text: `Unreadable reply from the next hop: ${(line ?? '').slice(0, 200)}` };
  const code = Number(m[1]);
  const enhanced = m[2] && m[2][0] === m[1]![0] ? m[2] : `${m[1]![0]}.0.0`;
  return { code, enhanced, text: m[3]!.trim() };
}

export function isPermanent(r: Reply): boolean {
  return r.code >= 500;
}

/**
 * Replies both listeners give for conditions that are not any one phase's.
 * Phase-specific replies live with their phase.
 */
export const COMMON_REPLIES = {
  /** Any unexpected exception in a phase: the sender keeps the message and retries (RFC 3463 X.3.0). */
  internalError: reply(451, '4.3.0', 'Internal error, try again later'),
  /** The member is stopping (RFC 3463 X.3.2 system not accepting network messages). */
  shuttingDown: reply(421, '4.3.2', 'Service shutting down, try again later'),
} as const;
