import { randomBytes } from 'node:crypto';

/**
 * Connection ids for log lines: short, random (not a counter, so ids from
 * several members never collide in a shared log store), URL-safe.
 */
export function connectionId(): string {
  return randomBytes(6).toString('base64url');
}
