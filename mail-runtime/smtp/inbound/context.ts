import type { SMTPServerSession } from 'smtp-server';
import type { Logger } from '../../common/log';
import type { Filter, HeaderEdit, SessionInfo, Verdict } from '../filters/types';
import type { QueueWriter } from '../queue';
import type { Router } from '../routing';
import type { LoginLimiter } from '../../auth';
import type { ConnectionLimit, PlaintextAuthPolicy } from '../../net';
import type { MessageRate } from './admission';
import { SmtpReply } from './reply';

/** Counters the gateway exposes on /metrics; the listener only reports. */
export interface InboundMetrics {
  /** How a transaction ended at DATA, or which phase refused it. */
  outcome(outcome: 'accepted' | 'discarded' | 'rejected' | 'tempfail', phase: 'connect' | 'mail-from' | 'rcpt-to' | 'data'): void;
}

/**
 * The gateway's relay listener: cluster members (a node relaying what its
 * users submitted for outside) log in with AUTH PLAIN (RFC 4616), the
 * cluster token as the password, and may then relay. The public MX has no
 * AUTH at all.
 */
export interface RelayAuth {
  /** True when `password` is the cluster token (`username` names the member, for logs). */
  verify(username: string, password: string): boolean;
  /** Config `plaintextAuth`: where AUTH is allowed without TLS (RFC 4954 §4: the token must not cross a network in clear). */
  plaintextAuth: PlaintextAuthPolicy;
  /**
   * Failed AUTHs on one connection before it is closed with 421 4.7.0
   * (`limits.loginFailuresPerConnection`): smtp-server counts every other
   * command before login, not AUTH itself, so guessing is bounded here.
   */
  failuresPerConnection: number;
  /**
   * Failed AUTHs per client address across connections (auth/ LoginLimiter,
   * `limits.loginFailuresPerAddress` in `limits.loginFailureWindowSeconds`):
   * beyond it AUTH is refused 454 4.7.0 without checking the token.
   */
  limiter: Pick<LoginLimiter, 'check' | 'failed' | 'succeeded'>;
}

/** What the MX needs of smtp/outbound's Srs: is an address ours, and whom it stands for (throws when forged or expired). */
export interface SrsReverser {
  isOurs(address: string): boolean;
  reverse(address: string): string;
}

/** What every phase of the inbound MX works with; built once per listener (server.ts). */
export interface InboundContext {
  /** RuntimeConfig `hostname`: greeting, Received `by`. */
  hostname: string;
  router: Router;
  queue: QueueWriter;
  /** The configured filters of every phase, in order; each phase runs those that name it. */
  filters: readonly Filter[];
  /** Set on the relay listener only: members authenticate, then relay (their mail leaves as `submission`, DKIM-signed). */
  relay?: RelayAuth;
  /**
   * Config `outbound.srs`: a bounce (or reply) to one of our SRS addresses
   * goes back to the address it rewrote, once its hash and age verify.
   */
  srs?: SrsReverser;
  /** RuntimeConfig `relayNetworks` (IPv4 CIDRs): clients there may send to non-hosted domains. */
  relayNetworks: readonly string[];
  /** limits.maxMessageBytes at start: SIZE (RFC 1870) and the DATA bound (each session keeps the one of its connection: InboundSession). */
  maxMessageBytes: number;
  /** Longest message line, CRLF included (INBOUND_LIMITS.textLineBytes unless a test lowers it). */
  maxLineBytes: number;
  /** queue.expireHours, in ms: an accepted message bounces if still undelivered after this. */
  expireMs: number;
  messageRate: MessageRate;
  /** The member's connection bounds (net/), shared by every client listener of the gateway. */
  connections: ConnectionLimit;
  log: Logger;
  metrics?: InboundMetrics;
}

export interface AcceptedRecipient {
  /** What the client wrote in RCPT TO. */
  given: string;
  /** Where it is queued for: the mailbox an alias names, or the remote address as given. */
  address: string;
  /** A rcpt-to filter chose the Junk folder for this recipient. */
  folder?: 'junk';
  /** Not a hosted domain: relayed (from relayNetworks) to the outbound transport. */
  remote?: boolean;
}

/** Our state of one SMTP connection, beside smtp-server's session object. */
export interface InboundSession {
  info: SessionInfo;
  log: Logger;
  /** The size limit this connection advertised in EHLO (SIZE, RFC 1870) and applies to DATA: the listener's when it was accepted. */
  maxMessageBytes: number;
  /** The EHLO/HELO name the helo filters last judged (they run at the first MAIL after it). */
  heloJudged: string | undefined;
  /** Header edits of the connect and helo filters, for every message of the connection. */
  connectionHeaders: HeaderEdit[];
  tx:
    | {
        /** smtp-server's transaction number: a stale tx is never reused after RSET. */
        number: number;
        recipients: Map<string, AcceptedRecipient>;
        /** Header edits of the mail-from and rcpt-to filters. */
        headers: HeaderEdit[];
        folder?: 'junk';
      }
    | undefined;
}

/** The client's address without the IPv4-mapped prefix. */
export function clientIp(session: SMTPServerSession): string {
  return session.remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/**
 * A verdict as the phase's answer: reject and temp-fail become the filter's
 * reply (a reply of the wrong class is corrected: a reject is never a 4xx,
 * a temp-fail never a 5xx); discard is reported to the caller.
 */
export function judge(verdict: Verdict): 'pass' | 'discard' {
  switch (verdict.kind) {
    case 'reject': {
      const r = verdict.reply;
      throw r.code >= 500 && r.code < 600 && r.enhanced.startsWith('5.') ? SmtpReply.from(r) : new SmtpReply(550, '5.7.1', r.text || 'message refused');
    }
    case 'tempfail': {
      const r = verdict.reply;
      throw r.code >= 400 && r.code < 500 && r.enhanced.startsWith('4.') ? SmtpReply.from(r) : new SmtpReply(451, '4.7.1', r.text || 'try again later');
    }
    case 'discard':
      return 'discard';
    default:
      return 'pass';
  }
}
