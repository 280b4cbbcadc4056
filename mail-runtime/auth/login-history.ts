/**
 * What the login limiter remembers: events (failed logins, successful ones)
 * under string keys. Behind this small interface so that it can be shared
 * cluster-wide later (issue 12: proxies share per-(user, address)
 * throttling through the hub, so guesses cannot be spread over proxies);
 * every call is async for that reason, and a read asks for all its keys at
 * once (one round trip).
 */
export interface LoginHistory {
  /** For each query: the events under `key` in the last `windowMs`, and when the latest of them happened. */
  read(queries: readonly HistoryQuery[]): Promise<KeyHistory[]>;
  /** Records one event, now, under each key. */
  record(keys: readonly string[]): Promise<void>;
  /** Forgets every event under these keys. */
  forget(keys: readonly string[]): Promise<void>;
}

export interface HistoryQuery {
  key: string;
  windowMs: number;
}

export interface KeyHistory {
  count: number;
  /** Epoch milliseconds of the latest event in the window; 0 when there is none. */
  last: number;
}

export interface MemoryLoginHistoryOptions {
  /**
   * Keys kept per kind (the part of a key before its first `:`), the least
   * recently recorded dropped first; each kind has its own budget, so a
   * flood of made-up user names cannot push out what the limiter knows
   * about addresses or about users' usual addresses.
   */
  maxKeysPerKind?: number;
  /** Events kept per key, newest first; counts above it read as this many. */
  maxEventsPerKey?: number;
  now?: () => number;
}

/** Keys per kind: 50,000 × a few dozen timestamps stays within a few MiB per kind. */
const MAX_KEYS_PER_KIND = 50_000;
const MAX_EVENTS_PER_KEY = 32;

/** The in-process LoginHistory: bounded in keys and in events per key. */
export class MemoryLoginHistory implements LoginHistory {
  private readonly kinds = new Map<string, Map<string, number[]>>();
  private readonly maxKeys: number;
  private readonly maxEvents: number;
  private readonly now: () => number;

  constructor(opts: MemoryLoginHistoryOptions = {}) {
    this.maxKeys = opts.maxKeysPerKind ?? MAX_KEYS_PER_KIND;
    this.maxEvents = opts.maxEventsPerKey ?? MAX_EVENTS_PER_KEY;
    this.now = opts.now ?? Date.now;
  }

  private kind(key: string): Map<string, number[]> {
    const name = key.slice(0, Math.max(0, key.indexOf(':')));
    let m = this.kinds.get(name);
    if (!m) {
      m = new Map();
      this.kinds.set(name, m);
    }
    return m;
  }

  /** Keys tracked, over all kinds. */
  get size(): number {
    let n = 0;
    for (const m of this.kinds.values()) n += m.size;
    return n;
  }

  read(queries: readonly HistoryQuery[]): Promise<KeyHistory[]> {
    const now = this.now();
    return Promise.resolve(
      queries.map(({ key, windowMs }) => {
        const events = this.kind(key).get(key);
        if (!events) return { count: 0, last: 0 };
        const cutoff = now - windowMs;
        let count = 0;
        while (count < events.length && events[events.length - 1 - count] > cutoff) count++;
        return { count, last: count ? events[events.length - 1] : 0 };
      }),
    );
  }

  record(keys: readonly string[]): Promise<void> {
    const now = this.now();
    for (const key of keys) {
      const m = this.kind(key);
      const events = m.get(key) ?? [];
      // Re-inserting moves the key to the end: the Map's order is least recently recorded first.
      m.delete(key);
      events.push(now);
      if (events.length > this.maxEvents) events.splice(0, events.length - this.maxEvents);
      m.set(key, events);
      if (m.size > this.maxKeys) m.delete(m.keys().next().value as string);
    }
    return Promise.resolve();
  }

  forget(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.kind(key).delete(key);
    return Promise.resolve();
  }
}
