/**
 * What the dashboard shows over time, kept in the active hub's memory only
 * (Prometheus stays the long-term store; a hub that takes over starts empty):
 * a timeline of cluster events (members joining and dying, this hub becoming
 * active or standby) and, per member, the gauges it sends with its heartbeats
 * over the last hour.
 */

/** Events kept for the timeline; older ones drop off (bounded memory whatever the cluster does). */
export const MAX_EVENTS = 500;
/** The charts' window. */
export const HISTORY_WINDOW_MS = 60 * 60 * 1000;
/** One sample per member per this interval (heartbeats come every second; the charts need far fewer points). */
export const HISTORY_SAMPLE_MS = 5_000;
/** Samples per member: one hour at one per 5 s. */
export const HISTORY_MAX_SAMPLES = HISTORY_WINDOW_MS / HISTORY_SAMPLE_MS;
/** Members tracked at most (a cluster of thousands of domains still has tens of members). */
export const HISTORY_MAX_MEMBERS = 256;

export type ActivityKind = 'hub-active' | 'hub-standby' | 'member-joined' | 'member-rejoined' | 'member-dead';

export interface ActivityEvent {
  /** Wall-clock time, ISO 8601. */
  at: string;
  kind: ActivityKind;
  member: string | null;
  detail: string;
}

export interface StatsSample {
  /** Wall-clock ms. */
  t: number;
  stats: Record<string, number>;
}

export class Activity {
  private readonly events: ActivityEvent[] = [];
  private readonly samples = new Map<string, StatsSample[]>();
  private readonly upSince = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  record(kind: ActivityKind, member: string | null, detail: string): void {
    this.events.push({ at: new Date(this.now()).toISOString(), kind, member, detail });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  /** Newest first. */
  timeline(): ActivityEvent[] {
    return [...this.events].reverse();
  }

  /** A member (re)started a process (`resumed` false) or came back to a new hub. */
  joined(id: string, resumed: boolean): void {
    if (!resumed || !this.upSince.has(id)) this.upSince.set(id, this.now());
  }

  died(id: string): void {
    this.upSince.delete(id);
  }

  /** When the member's current process registered (as this hub saw it), wall-clock ms. */
  since(id: string): number | null {
    return this.upSince.get(id) ?? null;
  }

  sample(id: string, stats: Record<string, number> | undefined): void {
    if (!stats) return;
    const t = this.now();
    let list = this.samples.get(id);
    if (!list) {
      if (this.samples.size >= HISTORY_MAX_MEMBERS) return;
      list = [];
      this.samples.set(id, list);
    }
    const last = list[list.length - 1];
    if (last && t - last.t < HISTORY_SAMPLE_MS) return;
    list.push({ t, stats: { ...stats } });
    const cutoff = t - HISTORY_WINDOW_MS;
    let drop = 0;
    while (drop < list.length && (list[drop]!.t < cutoff || list.length - drop > HISTORY_MAX_SAMPLES)) drop++;
    if (drop) list.splice(0, drop);
  }

  history(since: number): Record<string, StatsSample[]> {
    const cutoff = Math.max(since, this.now() - HISTORY_WINDOW_MS);
    const out: Record<string, StatsSample[]> = {};
    for (const [id, list] of this.samples) out[id] = list.filter((s) => s.t >= cutoff);
    return out;
  }
}
