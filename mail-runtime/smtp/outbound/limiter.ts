/**
 * Concurrency per destination and in total: a destination (a recipient
 * domain, a route, the smarthost) gets at most `perKey` connections, the
 * gateway at most `total`; callers wait in order. An aborted wait leaves the
 * queue.
 */
export class ConnectionLimiter {
  private active = new Map<string, number>();
  private total = 0;
  private waiting: { key: string; go: () => void }[] = [];

  constructor(
    private readonly perKey: number,
    private readonly maxTotal: number,
  ) {}

  /** Resolves with a release function once a slot is free. */
  acquire(key: string, signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active.set(key, (this.active.get(key) ?? 0) + 1);
        this.total++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          const n = (this.active.get(key) ?? 1) - 1;
          if (n) this.active.set(key, n);
          else this.active.delete(key);
          this.total--;
          this.pump();
        });
      };
      const waiter = { key, go };
      const onAbort = () => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.pump();
    });
  }

  /** Connections open now (for a destination, or in total). */
  inUse(key?: string): number {
    return key === undefined ? this.total : (this.active.get(key) ?? 0);
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.total < this.maxTotal; ) {
      const w = this.waiting[i]!;
      if ((this.active.get(w.key) ?? 0) < this.perKey) {
        this.waiting.splice(i, 1);
        w.go();
      } else i++;
    }
  }
}
