import { OUTBOUND_LIMITS } from './limits';

/** One SMTP reply (RFC 5321 §4.2): a code, an enhanced status code when given (RFC 3463), and its text. */
export interface SmtpReply {
  code: number;
  /** `5.1.1` when the first line carries one (RFC 2034 ENHANCEDSTATUSCODES). */
  enhanced?: string;
  /** Text of every line without the code, for EHLO keywords. */
  lines: string[];
}

/** `550 5.1.1 text …`, one line, bounded: what results, logs and DSNs carry. */
export function replyText(r: SmtpReply): string {
  const body = r.lines
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  const text = body.replace(/[^\x20-\x7e]/g, '?').slice(0, OUTBOUND_LIMITS.replyTextChars);
  return [String(r.code), r.enhanced, text].filter(Boolean).join(' ');
}

export class ReplyFormatError extends Error {}

/**
 * Splits a byte stream from an SMTP server into replies. Lines end in CRLF
 * (a bare LF is tolerated: a reply has no body to smuggle into); a reply
 * continues while its lines read `250-…` and ends with `250 …` (RFC 5321
 * §4.2.1). Lines and line counts are bounded (OUTBOUND_LIMITS).
 */
export class ReplyParser {
  private partial = '';
  private pending: string[] = [];
  private code = 0;

  /** Feeds bytes; returns the replies they completed. Throws ReplyFormatError on garbage. */
  push(chunk: string): SmtpReply[] {
    const out: SmtpReply[] = [];
    this.partial += chunk;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl).replace(/\r$/, '');
      this.partial = this.partial.slice(nl + 1);
      const reply = this.line(line);
      if (reply) out.push(reply);
    }
    if (this.partial.length > OUTBOUND_LIMITS.replyLineBytes) throw new ReplyFormatError(`reply line longer than ${OUTBOUND_LIMITS.replyLineBytes} octets`);
    return out;
  }

  /** Bytes received and not yet part of a reply (RFC 3207 §6: dropped at STARTTLS). */
  get buffered(): number {
    return this.partial.length + this.pending.length;
  }

  reset(): void {
    this.partial = '';
    this.pending = [];
    this.code = 0;
  }

  private line(line: string): SmtpReply | undefined {
    if (line.length > OUTBOUND_LIMITS.replyLineBytes) throw new ReplyFormatError(`reply line longer than ${OUTBOUND_LIMITS.replyLineBytes} octets`);
    const m = /^([2-5][0-9][0-9])([ -]|$)(.*)$/.exec(line);
    if (!m) throw new ReplyFormatError(`not an SMTP reply line: ${JSON.stringify(line.slice(0, 80))}`);
    const code = Number(m[1]);
    if (this.pending.length && code !== this.code) throw new ReplyFormatError(`reply code changed inside a multi-line reply (${this.code} then ${code})`);
    this.code = code;
    this.pending.push(m[3] ?? '');
    if (this.pending.length > OUTBOUND_LIMITS.replyLines) throw new ReplyFormatError(`reply longer than ${OUTBOUND_LIMITS.replyLines} lines`);
    if (m[2] === '-') return undefined;
    const lines = this.pending;
    this.pending = [];
    this.code = 0;
    const enhanced = /^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/.exec(lines[0] ?? '')?.[1];
    return { code, enhanced, lines: enhanced ? [lines[0]!.slice(enhanced.length).trimStart(), ...lines.slice(1)] : lines };
  }
}
