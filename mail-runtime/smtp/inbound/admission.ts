import { addressKey } from '../../net';

/**
 * Messages per client address per minute (RuntimeConfig
 * `inbound.messagesPerAddressPerMinute`): a token bucket per address that
 * refills continuously, so a steady sender at the limit is never refused and
 * a burst is cut at one minute's worth. Buckets that are full again are
 * forgotten, so memory follows the addresses sending right now.
 */
export class MessageRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one message's token; false when the address has none left. */
  take(ip: string): boolean {
    const t = this.now();
    this.sweep(t);
    const key = addressKey(ip);
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: t };
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) / 60_000) * this.perMinute);
    b.at = t;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    return true;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 60_000) * this.perMinute >= this.perMinute) this.buckets.delete(key);
    }
  }
}
