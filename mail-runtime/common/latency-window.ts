/**
 * Recent latencies for the p50/p99 a member reports with its heartbeats
 * (hub/protocol PERF_STATS): the last LATENCY_WINDOW_SAMPLES observations
 * younger than LATENCY_WINDOW_MS. Bounded memory whatever the traffic;
 * Prometheus' histogram stays the precise record.
 */

/** Observations kept at most (a quantile over 1024 values costs one small sort per heartbeat). */
export const LATENCY_WINDOW_SAMPLES = 1024;
/** Observations older than this no longer count: the figure follows the last few minutes. */
export const LATENCY_WINDOW_MS = 5 * 60 * 1000;

export class LatencyWindow {
  private readonly at: number[] = [];
  private readonly ms: number[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  observe(ms: number): void {
    this.at.push(this.now());
    this.ms.push(ms);
    if (this.ms.length > LATENCY_WINDOW_SAMPLES) {
      this.at.shift();
      this.ms.shift();
    }
  }

  /** Nearest-rank quantiles (q in 0..1) of the recent observations; null when there are none. */
  quantiles(qs: readonly number[]): (number | null)[] {
    const cutoff = this.now() - LATENCY_WINDOW_MS;
    let drop = 0;
    while (drop < this.at.length && this.at[drop]! < cutoff) drop++;
    if (drop) {
      this.at.splice(0, drop);
      this.ms.splice(0, drop);
    }
    if (this.ms.length === 0) return qs.map(() => null);
    const sorted = [...this.ms].sort((a, b) => a - b);
    return qs.map((q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
  }
}
