import { monotonicMs } from '../../common/clock';
import { LOGIN_ANSWER_MAX, type LoginFailuresReport, type LoginThrottleAnswer } from '../protocol';

/**
 * The hub's cluster-wide count of failed logins per (user, client address)
 * pair, as members report them (protocol/cluster.ts LoginFailuresReport).
 * In memory: after a hub failover the count starts again, while every
 * member's own limiter (auth/limiter.ts) keeps what it saw — the first line
 * of defence, which works without any hub. Bounded in pairs and in events
 * per pair, so a flood of made-up user names costs a fixed amount of memory.
 */
const MAX_PAIRS = 50_000;
/** Events kept per pair: past this many the limiter's wait has stopped growing anyway (it doubles up to a minute). */
const MAX_EVENTS = 64;

export class LoginFailureBoard {
  /** Pair → failure times (monotonic, oldest first); Map order is least recently failed first. */
  private readonly pairs = new Map<string, number[]>();

  constructor(private readonly now: () => number = monotonicMs) {}

  /** Records a member's report and answers every pair at or above `atLeast` failures in `windowMs`. */
  report(r: LoginFailuresReport): LoginThrottleAnswer {
    const now = this.now();
    for (const key of r.forgiven) this.pairs.delete(key);
    for (const key of r.failures) {
      const events = this.pairs.get(key) ?? [];
      this.pairs.delete(key);
      events.push(now);
      if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
      this.pairs.set(key, events);
      if (this.pairs.size > MAX_PAIRS) this.pairs.delete(this.pairs.keys().next().value as string);
    }
    const cutoff = now - r.windowMs;
    const out: LoginThrottleAnswer['pairs'] = [];
    // Newest first, so the bound on the answer drops the stalest pairs.
    for (const [key, events] of [...this.pairs].reverse()) {
      let count = 0;
      while (count < events.length && events[events.length - 1 - count]! > cutoff) count++;
      if (count >= r.atLeast && out.length < LOGIN_ANSWER_MAX) out.push({ key, count, ageMs: Math.max(0, Math.round(now - events[events.length - 1]!)) });
    }
    return { pairs: out };
  }

  get size(): number {
    return this.pairs.size;
  }
}
