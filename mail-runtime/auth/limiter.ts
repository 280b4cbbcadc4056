import { RuntimeLimits } from '../config';
import { addressKey } from '../net';
import { MemoryLoginHistory, type LoginHistory } from './login-history';
import { normalizeAddress } from './types';

/**
 * Failed-login limits, decided before a password is checked. Three counts
 * over a sliding window (config `limits.loginFailureWindowSeconds`):
 *
 * - per client address (any user): at `perAddress` the address is refused
 *   without a password check — the address is the attacker's. Not for a
 *   user who logged in from that address recently (a NAT shared with the
 *   attacker);
 * - per (user, address): after `perUserAddress` failures each further one
 *   doubles the time the pair must wait before its next check (1 s up to a
 *   minute); a try before that is refused unchecked. Only that pair is
 *   slowed: the user's other addresses are not;
 * - per user (all addresses): after `perUser` failures a login for that
 *   user from an address it has not used recently waits before its check,
 *   doubling from 250 ms up to `userDelayMaxMs`. Never refused: anyone can
 *   make failures for anyone, so this may cost the right password a few
 *   seconds but never the login (NIST SP 800-63B §5.2.2), from any address.
 *
 * A successful login remembers (user, address) for KNOWN_ADDRESS_MS: such
 * logins skip the per-user wait and the per-address refusal and go first in
 * the password-check queue (see `priority`). The verdict never depends on
 * whether the user exists, so it reveals nothing about that.
 *
 * What it remembers sits behind `LoginHistory`: in memory, or shared
 * through the hub (cluster/shared-login-history.ts) so that proxies
 * throttle together.
 */
export interface LoginLimiterOptions {
  perAddress: number;
  perUserAddress: number;
  perUser: number;
  windowMs: number;
  userDelayMaxMs: number;
  /** First wait of a pair past `perUserAddress` failures (doubles up to PAIR_DELAY_MAX_MS). */
  pairDelayMs: number;
}

/** The limiter's options from config `limits`. */
export function loginLimiterOptions(limits: RuntimeLimits): LoginLimiterOptions {
  return {
    perAddress: limits.loginFailuresPerAddress,
    perUserAddress: limits.loginFailuresPerUserAddress,
    perUser: limits.loginFailuresPerUser,
    windowMs: limits.loginFailureWindowSeconds * 1000,
    userDelayMaxMs: limits.loginUserDelayMaxMs,
    pairDelayMs: limits.loginPairDelayMs,
  };
}

/** A pair never waits longer than this between checks. */
const PAIR_DELAY_MAX_MS = 60_000;
/** First per-user wait; doubles with each further failure up to `userDelayMaxMs`. */
const USER_DELAY_BASE_MS = 250;
/** How long a successful login from an address marks it as the user's own: a month of use. */
const KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000;

/**
 * Order in the password-check queue: `known` (the user logged in from this
 * address recently) first, then `clean` (neither the user nor the address
 * has recent failures), then `suspect`.
 */
export type CheckPriority = 'known' | 'clean' | 'suspect';

export type LoginVerdict =
  | {
      allowed: true;
      /** Wait this long before checking the password (the per-user slow-down). */
      delayMs: number;
      priority: CheckPriority;
    }
  | {
      allowed: false;
      /** Which limit refused, for the log line. */
      reason: 'address' | 'user-address';
    };

export class LoginLimiter {
  private readonly history: LoginHistory;
  private readonly now: () => number;

  constructor(
    readonly options: LoginLimiterOptions = loginLimiterOptions(RuntimeLimits.parse(undefined)),
    /** Where it remembers: a LoginHistory, or one built around the in-memory one (cluster/shared-login-history.ts). */
    history?: LoginHistory | ((local: LoginHistory) => LoginHistory),
    now: () => number = Date.now,
  ) {
    const o = options;
    // Counts past a limit matter up to where the waits stop growing.
    const needed = Math.max(o.perAddress, o.perUserAddress + Math.ceil(Math.log2(PAIR_DELAY_MAX_MS / o.pairDelayMs)), o.perUser + 8) + 1;
    const memory = () => new MemoryLoginHistory({ maxEventsPerKey: needed, now });
    this.history = typeof history === 'function' ? history(memory()) : (history ?? memory());
    this.now = now;
  }

  private keys(user: string, ip: string) {
    const u = normalizeAddress(user);
    const a = addressKey(ip);
    return { address: `address:${a}`, user: `user:${u}`, pair: `pair:${u} ${a}`, known: `known:${u} ${a}` };
  }

  /** Asks before checking a password for `user` from `ip`. */
  async check(user: string, ip: string): Promise<LoginVerdict> {
    const o = this.options;
    const k = this.keys(user, ip);
    const [address, perUser, pair, known] = await this.history.read([
      { key: k.address, windowMs: o.windowMs },
      { key: k.user, windowMs: o.windowMs },
      { key: k.pair, windowMs: o.windowMs },
      { key: k.known, windowMs: KNOWN_ADDRESS_MS },
    ]);
    const trusted = known.count > 0;
    if (!trusted && address.count >= o.perAddress) return { allowed: false, reason: 'address' };
    if (pair.count >= o.perUserAddress) {
      const wait = Math.min(PAIR_DELAY_MAX_MS, o.pairDelayMs * 2 ** (pair.count - o.perUserAddress));
      if (this.now() < pair.last + wait) return { allowed: false, reason: 'user-address' };
    }
    const delayMs = trusted || perUser.count < o.perUser ? 0 : Math.min(o.userDelayMaxMs, USER_DELAY_BASE_MS * 2 ** (perUser.count - o.perUser));
    const priority: CheckPriority = trusted ? 'known' : address.count === 0 && perUser.count === 0 ? 'clean' : 'suspect';
    return { allowed: true, delayMs, priority };
  }

  /** The password was wrong (or the user unknown: the same to the limiter). */
  async failed(user: string, ip: string): Promise<void> {
    const k = this.keys(user, ip);
    await this.history.record([k.address, k.user, k.pair]);
  }

  /**
   * A good login forgives the pair's failures and marks the address as the
   * user's own. Not the user's count: failures from elsewhere may be an
   * attack still going on.
   */
  async succeeded(user: string, ip: string): Promise<void> {
    const k = this.keys(user, ip);
    await this.history.forget([k.pair]);
    await this.history.record([k.known]);
  }
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms).unref?.()) : Promise.resolve();
}
