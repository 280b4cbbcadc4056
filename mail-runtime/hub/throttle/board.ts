import { monotonicMs } from '../../common/clock';
import { LOGIN_ANSWER_MAX, type LoginFailuresReport, type LoginThrottleAnswer } from '../protocol';

/**
 * The hub's cluster-wide count of failed logins per (user, client address)
 * pair, as members report them (protocol/cluster.ts LoginFailuresReport).
 * In memory: after a hub failover the count starts again, while every
 * member's own limiter (auth/limiter.ts) keeps what it saw — the first line
 * of defence, which works without any hub. Bounded in pairs and in events
 * per pair, so a flood of made-up user names costs a fixed amount of memory.
 *
 * Counted per tier (the reporting member's role) and answered as the
 * largest tier's count: a login through a proxy is seen by the proxy and
 * again by the node it is passed to, and summing both would count every
 * try twice. Guesses spread over proxies count together, so do guesses
 * spread over nodes reached directly.
 */
const MAX_PAIRS = 50_000;
/** Events kept per pair: past this many the limiter's wait has stopped growing anyway (it doubles up to a minute). */
const MAX_EVENTS = 64;

export class LoginFailureBoard {
  /** Pair → failure times (monotonic, oldest first); Map order is least recently failed first. */
  private readonly pairs = new Map<string, number[]>();
  /** Tiers seen so far (member roles: a handful). */
  private readonly tiers = new Set<string>();

  constructor(private readonly now: () => number = monotonicMs) {}

  /** Records a member's report (`tier`: its role) and answers every pair at or above `atLeast` failures in `windowMs` in some tier. */
  report(r: LoginFailuresReport, tier: string): LoginThrottleAnswer {
    const now = this.now();
    // A successful login forgives the pair in every tier.
    for (const key of r.forgiven) for (const t of this.tiers) this.pairs.delete(`${t}\0${key}`);
    this.tiers.add(tier);
    for (const pair of r.failures) {
      const key = `${tier}\0${pair}`;
      const events = this.pairs.get(key) ?? [];
      this.pairs.delete(key);
      events.push(now);
      if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
      this.pairs.set(key, events);
      if (this.pairs.size > MAX_PAIRS) this.pairs.delete(this.pairs.keys().next().value as string);
    }
    const cutoff = now - r.windowMs;
    const best = new Map<string, { count: number; ageMs: number }>();
    // Newest first, so the bound on the answer drops the stalest pairs.
    for (const [tierKey, events] of [...this.pairs].reverse()) {
      let count = 0;
      while (count < events.length && events[events.length - 1 - count]! > cutoff) count++;
      if (count < r.atLeast) continue;
      const key = tierKey.slice(tierKey.indexOf('\0') + 1);
      const ageMs = Math.max(0, Math.round(now - events[events.length - 1]!));
      const had = best.get(key);
      if (had) best.set(key, { count: Math.max(had.count, count), ageMs: Math.min(had.ageMs, ageMs) });
      else if (best.size < LOGIN_ANSWER_MAX) best.set(key, { count, ageMs });
    }
    return { pairs: [...best].map(([key, v]) => ({ key, ...v })) };
  }

  get size(): number {
    return this.pairs.size;
  }
}
