/** RuntimeConfig `queue` retry schedule, in ms. */
export interface RetrySchedule {
  firstMs: number;
  maxMs: number;
}

/**
 * Exponential backoff: the wait after the n-th failed attempt (n ≥ 1) is
 * first · 2^(n-1), capped at max (RFC 5321 §4.5.4.1: retries until give-up,
 * spaced out so a host that is down is not hammered).
 */
export function retryDelay(attempts: number, schedule: RetrySchedule): number {
  const n = Math.max(1, attempts);
  // 2^40 ms is 35 years: past any cap, and still exact in a double.
  return Math.min(schedule.maxMs, schedule.firstMs * 2 ** Math.min(n - 1, 40));
}
