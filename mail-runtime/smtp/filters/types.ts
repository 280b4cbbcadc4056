import type { Readable } from 'node:stream';
import type { Logger } from '../../common/log';

/**
 * The contract between the SMTP listeners (inbound MX, submission) and the
 * filters that judge a transaction (SPF/DKIM/DMARC/ARC, antivirus, spam,
 * rate limits, milters). A filter is a small module named for the phase it
 * acts in (CONVENTIONS.md: Haraka's `rcpt_to.in_host_list`); it returns a
 * verdict, never throws on purpose, and is cut off by its own timeout, which
 * the chain turns into a temp-fail (or an accept, where the operator chose
 * fail-open) — a filter never hangs a transaction.
 */

/** SMTP phases (RFC 5321 §3): a filter acts in one or more of them. */
export type Phase = 'connect' | 'helo' | 'mail-from' | 'rcpt-to' | 'data';

/** An SMTP reply: basic code (RFC 5321 §4.2) and enhanced status (RFC 3463). */
export interface Reply {
  code: number;
  /** e.g. `5.7.1`. */
  enhanced: string;
  text: string;
}

export type Verdict =
  /** No objection; the next filter runs. */
  | { kind: 'continue' }
  /** Accept now: the remaining filters of this phase are skipped (an allowlist hit). */
  | { kind: 'accept' }
  /** Permanent refusal (5xx): the sender must not retry. */
  | { kind: 'reject'; reply: Reply }
  /** Temporary refusal (4xx): the sender retries later; nothing is lost. */
  | { kind: 'tempfail'; reply: Reply }
  /** Accept and drop (milter SMFIR_DISCARD); logged, never silent. */
  | { kind: 'discard'; reason: string };

/** A header change a filter asks for (milter SMFIR_ADDHEADER / INSHEADER / CHGHEADER). */
export type HeaderEdit =
  /** `index` 0 prepends (above every existing field); absent appends after the last field. */
  | { op: 'add'; name: string; value: string; index?: number }
  /** Changes the `occurrence`-th (1-based) field named `name`; `value: null` deletes it. */
  | { op: 'change'; name: string; occurrence: number; value: string | null };

export interface FilterResult {
  verdict: Verdict;
  /** Applied in order, after every filter of the phase has run, only when the message is accepted. */
  headers?: readonly HeaderEdit[];
  /** Deliver to the recipient's Junk folder instead of INBOX (spam above the junk score). */
  folder?: 'junk';
  /** Fields for the transaction's log line (scores, signature names); never message content. */
  notes?: Readonly<Record<string, string | number | boolean>>;
}

/** What is known about the client connection. */
export interface SessionInfo {
  /** Connection id (net/conn-id) shared with the log lines. */
  id: string;
  /** Which listener: the public MX, authenticated submission, or LMTP from a gateway. */
  listener: 'mx' | 'submission' | 'lmtp';
  remoteIp: string;
  remotePort?: number;
  /** Reverse-DNS name of remoteIp when resolved (FCrDNS is the filter's business). */
  clientHostname?: string;
  /** The EHLO/HELO argument (RFC 5321 §4.1.1.1). */
  helo?: string;
  secure: boolean;
  /** Authenticated user (submission), normalised address. */
  authUser?: string;
}

export interface Envelope {
  /** Reverse path; '' for the null sender `<>` (RFC 5321 §4.5.5, bounces). */
  mailFrom: string;
  /** Forward paths accepted so far (at rcpt-to: those before the current one). */
  rcptTo: readonly string[];
  /** SIZE= declared by the client (RFC 1870), if any. */
  declaredSize?: number;
}

/** The message at the data phase: already received in full and bounded by the size limit. */
export interface MessageView {
  /** Octets as received (CRLF line endings, dot-unstuffed). */
  readonly size: number;
  /** The whole message (it is in memory or on the spool; both are bounded). */
  bytes(): Promise<Buffer>;
  /** The message as a stream (antivirus INSTREAM, spam scanners, milters). */
  stream(): Readable;
}

export interface FilterContext {
  phase: Phase;
  session: SessionInfo;
  envelope: Envelope;
  /** At rcpt-to: the recipient being judged. */
  recipient?: string;
  /** At data only. */
  message?: MessageView;
  /** Aborted when the filter's timeout fires or the client goes away. */
  signal: AbortSignal;
  log: Logger;
}

export interface Filter {
  /** Stable name for logs and config, e.g. `data.antivirus.clamd`. */
  readonly name: string;
  readonly phases: readonly Phase[];
  /** How long the filter may take before the chain answers for it. */
  readonly timeoutMs: number;
  /** On timeout or error: temp-fail (mail stays safe, the sender retries) or accept unfiltered. */
  readonly onError: 'tempfail' | 'accept';
  run(ctx: FilterContext): Promise<FilterResult>;
}
