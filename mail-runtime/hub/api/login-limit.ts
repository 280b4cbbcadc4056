import { MemoryLoginHistory } from '../../auth';
import { addressKey } from '../../net';
import { HubError } from '../errors';

/**
 * Dashboard logins (POST /v1/session) per client address: after
 * SESSION_LOGIN_FAILURES wrong tokens within SESSION_LOGIN_WINDOW_MS the
 * address gets 429 with Retry-After (RFC 6585 §4) — for every login, the
 * right token too, so guessing stops rather than slows (OWASP ASVS V2.2.1).
 * Failures only count: an operator who logs in often is never refused. The
 * events sit in auth's bounded MemoryLoginHistory (a flood of addresses
 * cannot grow the hub's memory); IPv6 counts per /64 (net/addressKey).
 */

/** Wrong tokens from one address before it must wait: more than a person mistyping, far fewer than a guesser needs. */
export const SESSION_LOGIN_FAILURES = 10;
/** The window they are counted over; a refused address may try again this long after its latest failure. */
export const SESSION_LOGIN_WINDOW_MS = 5 * 60 * 1000;

export class SessionLoginLimiter {
  private readonly history: MemoryLoginHistory;

  constructor(private readonly now: () => number = Date.now) {
    this.history = new MemoryLoginHistory({ maxEventsPerKey: SESSION_LOGIN_FAILURES, now });
  }

  private key(ip: string): string {
    return `session-login:${addressKey(ip)}`;
  }

  /** Throws `rate_limited` (429) while `ip` has used up its failures. */
  async check(ip: string): Promise<void> {
    const [h] = await this.history.read([{ key: this.key(ip), windowMs: SESSION_LOGIN_WINDOW_MS }]);
    if (!h || h.count < SESSION_LOGIN_FAILURES) return;
    // Every counted failure is at or before `last`: once it leaves the window, all have.
    const retryAfter = Math.max(1, Math.ceil((h.last + SESSION_LOGIN_WINDOW_MS - this.now()) / 1000));
    throw new HubError('rate_limited', `too many failed logins from this address: try again in ${retryAfter} s`, undefined, undefined, retryAfter);
  }

  async failed(ip: string): Promise<void> {
    await this.history.record([this.key(ip)]);
  }
}
