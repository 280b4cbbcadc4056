/**
 * Checks the DATA octets as they arrive (dot-unstuffed, the terminator
 * removed) for what SMTP smuggling needs and what no honest sender writes.
 *
 * What smtp-server 3.21.6 does already: it ends DATA only at
 * `CRLF . CRLF` (also when the terminator straddles TCP segments, and a
 * dot-stuffed first line cannot end it), so `\n.\n`, `\r\n.\n` and
 * `\n.\r\n` never end the message on our side. What it does not do: refuse
 * those sequences. It passes them on as content, and a next hop that ends
 * DATA at a bare LF would read the rest as a second, forged transaction
 * (CVE-2023-51764 Postfix, -51765 Sendmail, -51766 Exim). So any CR or LF
 * not part of a CRLF pair refuses the message (RFC 5321 §2.3.8: "CR and LF
 * MUST only occur together as CRLF"), which covers every variant at once.
 *
 * Lines longer than `maxLineBytes` are refused too (RFC 5321 §4.5.3.1.6).
 */
export type DataViolation = 'bare-cr' | 'bare-lf' | 'line-too-long';

const CR = 0x0d;
const LF = 0x0a;

export class DataGuard {
  /** The first problem seen; the rest of the data is only counted. */
  violation: DataViolation | undefined;
  /** The previous chunk ended with CR: its pair must be the next chunk's first octet. */
  private pendingCr = false;
  /** Octets of the current line so far (across chunks). */
  private lineBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): void {
    if (this.violation || chunk.length === 0) return;
    if (this.pendingCr && chunk[0] !== LF) return this.fail('bare-cr');
    // Every LF must follow a CR.
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      const before = i > 0 ? chunk[i - 1] === CR : this.pendingCr;
      if (!before) return this.fail('bare-lf');
    }
    // Every CR must precede an LF (the last octet's partner may be in the next chunk).
    for (let i = chunk.indexOf(CR); i >= 0; i = chunk.indexOf(CR, i + 1)) {
      if (i === chunk.length - 1) break;
      if (chunk[i + 1] !== LF) return this.fail('bare-cr');
    }
    this.pendingCr = chunk[chunk.length - 1] === CR;
    // Line lengths: octets between line ends, CRLF included.
    let start = 0;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if (this.lineBytes + (i + 1 - start) > this.maxLineBytes) return this.fail('line-too-long');
      this.lineBytes = 0;
      start = i + 1;
    }
    this.lineBytes += chunk.length - start;
    if (this.lineBytes > this.maxLineBytes) this.fail('line-too-long');
  }

  /** The data is complete: a CR at its very end had no LF. */
  end(): void {
    if (!this.violation && this.pendingCr) this.fail('bare-cr');
  }

  private fail(v: DataViolation): void {
    this.violation = v;
  }
}
