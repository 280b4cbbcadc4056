import { FILTER_LIMITS } from './limits';
import type { Reply, Verdict } from './types';

/**
 * Text from a peer (a milter's reply line, a clamd signature name, a spam
 * scanner's message) ends up in our SMTP reply: keep it to printable ASCII on
 * one line (RFC 5321 §4.2: reply text is printable US-ASCII; a CR or LF would
 * let the peer inject reply lines) and within the reply-line limit.
 */
export function replyText(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > FILTER_LIMITS.replyTextBytes ? `${clean.slice(0, FILTER_LIMITS.replyTextBytes - 3)}...` : clean;
}

/** 5xx: refused for good (RFC 5321 §4.2.1). */
export function reject(code: number, enhanced: string, text: string): Verdict {
  return { kind: 'reject', reply: { code, enhanced, text: replyText(text) } };
}

/** 4xx: the sender retries (RFC 5321 §4.2.1). */
export function tempfail(code: number, enhanced: string, text: string): Verdict {
  return { kind: 'tempfail', reply: { code, enhanced, text: replyText(text) } };
}

/** RFC 3463 enhanced status: class.subject.detail, class matching the basic code's first digit. */
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parses a reply line a peer sent (`550 5.7.1 text`, `451 text`) into a
 * Reply, or undefined when it is not a 4xx/5xx reply. A missing or mismatched
 * enhanced status gets the generic one for the class (RFC 3463 §3.2/§3.8:
 * x.7.1 "delivery not authorized, message refused" for policy decisions).
 */
export function parseReplyLine(line: string): Reply | undefined {
  const m = /^([45])(\d\d)(?:[ -](.*))?$/s.exec(line.trim());
  if (!m) return undefined;
  const code = Number(`${m[1]}${m[2]}`);
  let rest = (m[3] ?? '').trim();
  let enhanced = `${m[1]}.7.1`;
  const first = rest.split(/\s+/, 1)[0] ?? '';
  const e = ENHANCED.exec(first);
  if (e) {
    if (e[1] === m[1]) enhanced = first;
    rest = rest.slice(first.length).trim();
  }
  // A multi-line reply from a milter (RFC 5321 §4.2.1 `550-...`): keep the text of every line.
  rest = rest.replace(/\r?\n[45]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?/g, ' ');
  return { code, enhanced, text: replyText(rest || 'refused by a content filter') };
}
