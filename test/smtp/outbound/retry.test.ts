import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expiryFor, nextAttempt } from '../../../mail-runtime/smtp/outbound';
import { gatewaySettings } from './settings';

const schedule = gatewaySettings().outbound.retry;
const received = new Date('2026-01-01T00:00:00Z');
const entry = { expiresAt: expiryFor(received, schedule).toISOString() };

describe('retry schedule (RFC 5321 §4.5.4.1)', () => {
  it('defaults: 1 min doubling to 4 h, expiry after 5 days', () => {
    expect(schedule).toEqual({ firstDelaySeconds: 60, maxDelaySeconds: 14_400, factor: 2, expireAfterSeconds: 432_000 });
    expect(entry.expiresAt).toBe('2026-01-06T00:00:00.000Z');
    const delays = [1, 2, 3, 8, 9, 30].map((a) => {
      const n = nextAttempt(entry, a, schedule, received);
      return n.kind === 'retry' ? (n.at.getTime() - received.getTime()) / 1000 : n.kind;
    });
    expect(delays).toEqual([60, 120, 240, 7680, 14_400, 14_400]);
  });

  it('never schedules past expiry, and expires at or after it', () => {
    const nearEnd = new Date(Date.parse(entry.expiresAt) - 1000);
    expect(nextAttempt(entry, 20, schedule, nearEnd)).toEqual({ kind: 'retry', at: new Date(entry.expiresAt) });
    expect(nextAttempt(entry, 21, schedule, new Date(entry.expiresAt))).toEqual({ kind: 'expired' });
    expect(() => nextAttempt(entry, 0, schedule, received)).toThrow(/attempt must be/);
    expect(() => nextAttempt({ expiresAt: 'soon' }, 1, schedule, received)).toThrow(/expiresAt/);
  });

  it('delays grow with attempts, stay within [first, max], and end at expiry (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ first: fc.integer({ min: 1, max: 3600 }), extra: fc.integer({ min: 0, max: 86_400 }), factor: fc.double({ min: 1, max: 10, noNaN: true }), life: fc.integer({ min: 60, max: 30 * 86_400 }) }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 40 * 86_400 }),
        (p, attempt, offset) => {
          const s = { firstDelaySeconds: p.first, maxDelaySeconds: p.first + p.extra, factor: p.factor, expireAfterSeconds: p.life };
          const e = { expiresAt: expiryFor(received, s).toISOString() };
          const now = new Date(received.getTime() + offset * 1000);
          const n = nextAttempt(e, attempt, s, now);
          if (now.getTime() >= Date.parse(e.expiresAt)) {
            expect(n.kind).toBe('expired');
            return;
          }
          if (n.kind !== 'retry') throw new Error('expected a retry');
          const delay = (n.at.getTime() - now.getTime()) / 1000;
          expect(n.at.getTime()).toBeLessThanOrEqual(Date.parse(e.expiresAt));
          expect(delay).toBeLessThanOrEqual(s.maxDelaySeconds + 1e-6);
          const later = nextAttempt(e, attempt + 1, s, now);
          if (later.kind === 'retry') expect(later.at.getTime()).toBeGreaterThanOrEqual(n.at.getTime());
        },
      ),
    );
  });
});
