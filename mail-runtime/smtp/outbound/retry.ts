import type { QueueEntry } from '../queue/types';
import type { RetrySchedule } from './types';

/** When to try a deferred entry again, or that its time is up (bounce what is still pending). */
export type NextAttempt = { kind: 'retry'; at: Date } | { kind: 'expired' };

/**
 * The retry schedule as a pure function (no clock of its own): after the
 * `attempt`-th failed attempt (1 for the first) at `now`, the next attempt
 * waits `firstDelaySeconds × factor^(attempt−1)`, capped at `maxDelaySeconds`,
 * and never goes past the entry's `expiresAt`: the last try happens at expiry,
 * and a failure at or after it expires the entry (RFC 5321 §4.5.4.1: retry
 * until a give-up time of at least 4–5 days, then return the message).
 */
export function nextAttempt(entry: Pick<QueueEntry, 'expiresAt'>, attempt: number, schedule: RetrySchedule, now: Date): NextAttempt {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number from 1 (got ${attempt})`);
  const expires = Date.parse(entry.expiresAt);
  if (Number.isNaN(expires)) throw new RangeError(`entry.expiresAt is not an ISO 8601 time (got ${JSON.stringify(entry.expiresAt)})`);
  if (now.getTime() >= expires) return { kind: 'expired' };
  // factor^(attempt-1) overflows to Infinity for large attempts; min() keeps the cap.
  const delaySeconds = Math.min(schedule.maxDelaySeconds, schedule.firstDelaySeconds * schedule.factor ** (attempt - 1));
  return { kind: 'retry', at: new Date(Math.min(now.getTime() + delaySeconds * 1000, expires)) };
}

/** When an entry received at `receivedAt` gives up: what the queue writes into `expiresAt`. */
export function expiryFor(receivedAt: Date, schedule: RetrySchedule): Date {
  return new Date(receivedAt.getTime() + schedule.expireAfterSeconds * 1000);
}
