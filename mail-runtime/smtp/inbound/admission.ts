import { isIPv6 } from 'node:net';

/**
 * Admission at accept time and per message, in one place so the shared
 * bounds of issue 9 plug in here. `ConnectionAdmission` is the shape of
 * net/'s ConnectionLimit (`admit(ip)` → a slot to release, or why not):
 * once that lands, the gateway passes the member's ConnectionLimit and
 * LocalConnectionLimit goes away. The per-address message rate is SMTP's
 * own and stays.
 */
export type RefusalReason = 'total' | 'address';

export interface Admission {
  /** Gives the slot back; more calls do nothing. */
  release(): void;
}

export interface ConnectionAdmission {
  admit(ip: string): Admission | { refused: RefusalReason };
}

/** The key an address is counted under: itself, or an IPv6 client's /64 (one subscriber). */
export function addressKey(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!isIPv6(ip)) return ip;
  // Expand "::" so the first four groups are the /64.
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Connections in total and per address (a stand-in for net/'s ConnectionLimit, issue 9). */
export class LocalConnectionLimit implements ConnectionAdmission {
  private open = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    readonly max: number,
    readonly maxPerAddress: number,
    private readonly onRefused: (reason: RefusalReason, ip: string) => void = () => undefined,
  ) {}

  get inUse(): number {
    return this.open;
  }

  admit(ip: string): Admission | { refused: RefusalReason } {
    if (this.open >= this.max) {
      this.onRefused('total', ip);
      return { refused: 'total' };
    }
    const key = addressKey(ip);
    const n = this.perAddress.get(key) ?? 0;
    if (n >= this.maxPerAddress) {
      this.onRefused('address', ip);
      return { refused: 'address' };
    }
    this.perAddress.set(key, n + 1);
    this.open++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        const left = (this.perAddress.get(key) ?? 1) - 1;
        if (left > 0) this.perAddress.set(key, left);
        else this.perAddress.delete(key);
      },
    };
  }
}

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
