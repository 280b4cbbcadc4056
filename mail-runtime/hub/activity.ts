import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../common/atomic-file';

/**
 * What the dashboard shows over time: a timeline of cluster events (members
 * joining and dying, hubs becoming active or standby) and, per member, the
 * figures it sends with its heartbeats over the last hour. Kept in the
 * active hub's memory and written to the hub's storage (ActivityFile), so a
 * standby that takes over shows the same hour (Prometheus stays the
 * long-term store).
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

export type ActivityKind = 'hub-active' | 'hub-standby' | 'member-joined' | 'member-rejoined' | 'member-dead' | 'queue-takeover';

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

const ActivityKindSchema = z.enum(['hub-active', 'hub-standby', 'member-joined', 'member-rejoined', 'member-dead', 'queue-takeover']);
/** One member's samples on disk, columnar (`keys` once, a row of values per sample; null where a sample lacks a key): a tenth of the JSON of one object per sample. */
const MemberSamples = z.strictObject({
  keys: z.array(z.string().min(1).max(64)).max(64),
  t: z.array(z.number().int()).max(HISTORY_MAX_SAMPLES),
  v: z.array(z.array(z.number().finite().nullable())).max(HISTORY_MAX_SAMPLES),
});
/** The file ActivityFile writes; read back with this schema (the storage is a boundary). */
const ActivitySnapshot = z.strictObject({
  version: z.literal(1),
  events: z.array(z.strictObject({ at: z.iso.datetime(), kind: ActivityKindSchema, member: z.string().nullable(), detail: z.string().max(1000) })).max(MAX_EVENTS),
  upSince: z.record(z.string(), z.number().int()),
  samples: z.record(z.string(), MemberSamples),
});
type ActivitySnapshot = z.infer<typeof ActivitySnapshot>;

export class Activity {
  private readonly events: ActivityEvent[] = [];
  private readonly samples = new Map<string, StatsSample[]>();
  private readonly upSince = new Map<string, number>();
  private readonly listeners = new Set<(e: ActivityEvent) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  record(kind: ActivityKind, member: string | null, detail: string): void {
    const e: ActivityEvent = { at: new Date(this.now()).toISOString(), kind, member, detail };
    this.events.push(e);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    for (const l of this.listeners) l(e);
  }

  /** Calls `fn` with every new event (the dashboard's push stream); returns the unsubscribe. */
  subscribe(fn: (e: ActivityEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
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

  /** Everything worth keeping across a takeover, compact (ActivityFile writes it). */
  snapshot(): ActivitySnapshot {
    const samples: ActivitySnapshot['samples'] = {};
    for (const [id, list] of this.samples) {
      const keys = [...new Set(list.flatMap((s) => Object.keys(s.stats)))].slice(0, 64);
      samples[id] = { keys, t: list.map((s) => s.t), v: list.map((s) => keys.map((k) => s.stats[k] ?? null)) };
    }
    return { version: 1, events: [...this.events], upSince: Object.fromEntries(this.upSince), samples };
  }

  /**
   * Merges what a previous active hub wrote (this hub may hold events and
   * samples of its own): events by time without duplicates, samples per
   * member by time, both trimmed to the usual bounds.
   */
  restore(snap: ActivitySnapshot): void {
    const seen = new Set(this.events.map((e) => JSON.stringify(e)));
    const merged = [...this.events, ...snap.events.filter((e) => !seen.has(JSON.stringify(e)))].sort((a, b) => a.at.localeCompare(b.at));
    this.events.splice(0, this.events.length, ...merged.slice(-MAX_EVENTS));
    for (const [id, t] of Object.entries(snap.upSince)) if (!this.upSince.has(id)) this.upSince.set(id, t);
    const cutoff = this.now() - HISTORY_WINDOW_MS;
    for (const [id, m] of Object.entries(snap.samples)) {
      const own = this.samples.get(id) ?? [];
      if (!this.samples.has(id) && this.samples.size >= HISTORY_MAX_MEMBERS) continue;
      const times = new Set(own.map((s) => s.t));
      const loaded: StatsSample[] = [];
      m.t.forEach((t, i) => {
        if (t < cutoff || times.has(t)) return;
        const stats: Record<string, number> = {};
        m.keys.forEach((k, j) => {
          const v = m.v[i]?.[j];
          if (v !== null && v !== undefined) stats[k] = v;
        });
        loaded.push({ t, stats });
      });
      this.samples.set(id, [...own, ...loaded].sort((a, b) => a.t - b.t).slice(-HISTORY_MAX_SAMPLES));
    }
  }

  history(since: number): Record<string, StatsSample[]> {
    const cutoff = Math.max(since, this.now() - HISTORY_WINDOW_MS);
    const out: Record<string, StatsSample[]> = {};
    for (const [id, list] of this.samples) out[id] = list.filter((s) => s.t >= cutoff);
    return out;
  }
}

/** How often the active hub writes its activity to storage (and once more when it stops): a takeover loses at most this much. */
export const ACTIVITY_PERSIST_MS = 30_000;
/** The file is refused above this size (bounded reads whatever is on the storage); 256 members × an hour of a dozen figures fit. */
const ACTIVITY_FILE_MAX_BYTES = 32 * 1024 * 1024;

/**
 * `<storage>/hub/activity.json`: the active hub's Activity, replaced
 * atomically (temporary file, fsync, rename), so the hub that takes over
 * reads a whole file from before or after a write, never a torn one.
 */
export class ActivityFile {
  constructor(
    private readonly file: string,
    private readonly activity: Activity,
  ) {}

  async save(): Promise<void> {
    await fs.mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify(this.activity.snapshot()), { durable: true });
  }

  /** Merges the file into memory; false when there is none. A file that is not what save() writes throws (the caller logs it and starts without it). */
  async load(): Promise<boolean> {
    let text: string;
    try {
      const st = await fs.stat(this.file);
      if (st.size > ACTIVITY_FILE_MAX_BYTES) throw new Error(`${this.file} is ${st.size} bytes, more than the ${ACTIVITY_FILE_MAX_BYTES} an activity file can be`);
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const parsed = ActivitySnapshot.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.activity.restore(parsed.data);
    return true;
  }
}
