import { LIMITS } from '../common/limits';
import { normalizeAddress } from './types';

/**
 * Failed-login limiter, per source IP and per user, over a sliding window.
 *
 * Below half the limit nothing happens; from there each further failure
 * doubles a delay the protocol layer waits before answering (slowing
 * guessing without locking out a user who mistyped twice); at the limit the
 * IP or user is refused outright until old failures leave the window.
 * Refusing per user lets an attacker lock a victim out for one window, which
 * is the accepted trade-off (RFC 4954 §4 / NIST 800-63B §5.2.2 rate limiting).
 */
export interface LoginLimiterOptions {
  perIp?: number;
  perUser?: number;
  windowMs?: number;
  /** First delay once slowing starts. */
  baseDelayMs?: number;
  /** Delay ceiling. */
  maxDelayMs?: number;
  /** Bound on tracked keys, so a flood of distinct names cannot grow memory without limit. */
  maxKeys?: number;
  now?: () => number;
}

export interface LoginVerdict {
  /** `false`: refuse without checking the password. */
  allowed: boolean;
  /** Wait this long before answering (also applied to refusals). */
  delayMs: number;
  /** Which key tripped the limit, for the log line. */
  reason?: 'ip' | 'user';
}

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly perIp: number;
  private readonly perUser: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(opts: LoginLimiterOptions = {}) {
    this.perIp = opts.perIp ?? LIMITS.loginFailuresPerIp;
    this.perUser = opts.perUser ?? LIMITS.loginFailuresPerUser;
    this.windowMs = opts.windowMs ?? LIMITS.loginWindowMs;
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 8000;
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  private recent(key: string): number {
    const list = this.failures.get(key);
    if (!list) return 0;
    const cutoff = this.now() - this.windowMs;
    while (list.length && list[0] <= cutoff) list.shift();
    if (!list.length) this.failures.delete(key);
    return list.length;
  }

  private delayFor(count: number, limit: number): number {
    const start = Math.ceil(limit / 2);
    if (count < start) return 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (count - start));
  }

  /** Asks before checking a password. `user` may be absent when not yet known. */
  check(ip: string, user?: string): LoginVerdict {
    const ipCount = this.recent(`ip:${ip}`);
    const userCount = user ? this.recent(`user:${normalizeAddress(user)}`) : 0;
    const delayMs = Math.max(this.delayFor(ipCount, this.perIp), this.delayFor(userCount, this.perUser));
    if (ipCount >= this.perIp) return { allowed: false, delayMs, reason: 'ip' };
    if (user && userCount >= this.perUser) return { allowed: false, delayMs, reason: 'user' };
    return { allowed: true, delayMs };
  }

  recordFailure(ip: string, user?: string): void {
    this.push(`ip:${ip}`, this.perIp);
    if (user) this.push(`user:${normalizeAddress(user)}`, this.perUser);
  }

  /** A good login forgives the user's earlier typos (not the IP's). */
  recordSuccess(_ip: string, user: string): void {
    this.failures.delete(`user:${normalizeAddress(user)}`);
  }

  private push(key: string, limit: number): void {
    this.recent(key);
    let list = this.failures.get(key);
    if (!list) {
      if (this.failures.size >= this.maxKeys) this.evict();
      list = [];
      this.failures.set(key, list);
    }
    list.push(this.now());
    // Never keep more than the limit: older entries add nothing to the verdict.
    if (list.length > limit) list.splice(0, list.length - limit);
  }

  private evict(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
    // Still full: drop the oldest keys (Map iterates in insertion order).
    const excess = this.failures.size - Math.floor(this.maxKeys * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const key of this.failures.keys()) {
        if (n++ >= excess) break;
        this.failures.delete(key);
      }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms).unref?.()) : Promise.resolve();
}
