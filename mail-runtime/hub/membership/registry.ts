import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file';
import { monotonicMs } from '../../common/clock';
import type { Logger } from '../../common/log';
import type { HubDb } from '../db';
import { HubError } from '../errors';
import {
  StorageHeartbeat,
  storageHeartbeatFiles,
  type ClusterTiming,
  type HeartbeatRequest,
  type MemberRole,
  type RegisterRequest,
} from '../protocol';
import { processGone } from './probe';

/**
 * Members and their health. Each member registers (getting an incarnation),
 * heartbeats every `heartbeatMs` and holds one stream. It is declared dead:
 *
 * - at once when its stream drops and every probed port refuses connections
 *   (its process is gone), or
 * - after `deadAfterMs` without a sign of life: no HTTP heartbeat and no
 *   higher counter in its storage heartbeat file.
 *
 * Declaring a member dead writes its fence file first (so it stops renewing
 * its lease through the storage), reads its storage heartbeat once more,
 * then bumps its incarnation (its HTTP heartbeats are refused from then on),
 * ends its stream and, for a node, hands its mailboxes to the placement with
 * the moment they may safely move: at once when its process is gone or it
 * has been silent for dead-after already, else dead-after after its last
 * sign of life (its lease, renewed at the latest then, has lapsed by then).
 * Times are on this hub's monotonic clock.
 */

export interface MemberRecord {
  id: string;
  role: MemberRole;
  site: string;
  version: string;
  advertise: string;
  ports: Record<string, number>;
  incarnation: number;
  dead: boolean;
}

interface Live {
  /** Last sign of life (monotonic ms): registration, heartbeat, or a storage counter seen to grow. */
  seenAt: number;
  /** Last HTTP heartbeat (for the heartbeat-age metric), monotonic ms. */
  heartbeatAt: number | null;
  counter: number;
  applied: { placement: number; settings: number } | null;
  stats: Record<string, number> | null;
  /** A storage read is in flight. */
  reading: boolean;
  /** The member's one deadline timer (`arm`). */
  timer?: NodeJS.Timeout;
}

export interface RegistryEvents {
  /** A member (re)registered; `resumed` false means it starts over. */
  registered(m: MemberRecord, resumed: boolean): void;
  /**
   * A member was declared dead (its incarnation was already bumped); what it
   * owned may move from `safeAt` (monotonic ms) on.
   */
  died(m: MemberRecord, reason: string, safeAt: number): void;
}

export interface RegistryOptions {
  db: HubDb;
  storageRoot: string;
  timing: ClusterTiming;
  log: Logger;
  events: RegistryEvents;
  assertActive: () => void;
  streamConnected: (id: string) => boolean;
}

interface MemberRow {
  id: string;
  role: MemberRole;
  site: string;
  version: string;
  advertise: string;
  ports: string;
  incarnation: number;
  dead: number;
}

export class MemberRegistry {
  private readonly members = new Map<string, MemberRecord>();
  private readonly live = new Map<string, Live>();
  private stopped = false;
  /** Members declared dead since this hub became active. */
  failovers = 0;
  /** Deaths being declared (fence written, final read pending). */
  private readonly dying = new Set<string>();
  /** Why each member was last declared dead (while this hub was active). */
  private readonly deaths = new Map<string, string>();

  constructor(private readonly o: RegistryOptions) {
    for (const r of o.db.prepare<[], MemberRow>('SELECT * FROM members').all()) {
      const m: MemberRecord = { ...r, ports: JSON.parse(r.ports) as Record<string, number>, dead: r.dead === 1 };
      this.members.set(m.id, m);
    }
  }

  /**
   * Starts watching. Every member that was alive when the previous hub
   * stopped gets a full dead-after interval from now (it cannot have
   * reached a hub meanwhile, and its storage heartbeats are read from now on).
   */
  start(): void {
    this.stopped = false;
    const now = monotonicMs();
    for (const m of this.members.values()) if (!m.dead) this.setLive(m.id, { seenAt: now, heartbeatAt: null, counter: -1, applied: null, stats: null, reading: false });
  }

  stop(): void {
    this.stopped = true;
    for (const l of this.live.values()) clearTimeout(l.timer);
  }

  get(id: string): MemberRecord | undefined {
    return this.members.get(id);
  }

  all(): { record: MemberRecord; heartbeatAgeMs: number | null; applied: Live['applied']; stats: Live['stats']; deathReason: string | null }[] {
    const now = monotonicMs();
    return [...this.members.values()].map((m) => {
      const l = this.live.get(m.id);
      return {
        record: m,
        heartbeatAgeMs: l?.heartbeatAt != null ? Math.round(now - l.heartbeatAt) : null,
        applied: l?.applied ?? null,
        stats: l?.stats ?? null,
        deathReason: this.deaths.get(m.id) ?? null,
      };
    });
  }

  isLive(id: string): boolean {
    const m = this.members.get(id);
    return m !== undefined && !m.dead;
  }

  private persist(m: MemberRecord): void {
    this.o.db
      .prepare(
        `INSERT INTO members (id, role, site, version, advertise, ports, incarnation, dead) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET role = excluded.role, site = excluded.site, version = excluded.version, advertise = excluded.advertise,
           ports = excluded.ports, incarnation = excluded.incarnation, dead = excluded.dead`,
      )
      .run(m.id, m.role, m.site, m.version, m.advertise, JSON.stringify(m.ports), m.incarnation, m.dead ? 1 : 0);
  }

  /**
   * Registers a member. A running member that presents its incarnation
   * resumes if it was never declared dead since (a hub failover); anything
   * else starts a new incarnation, and a previous one still believed alive
   * is declared dead first (a restarted process: whatever the old one
   * held is fenced by the epochs that follow).
   */
  register(req: RegisterRequest): { record: MemberRecord; resumed: boolean } {
    this.o.assertActive();
    const prev = this.members.get(req.memberId);
    if (prev && prev.role !== req.role && !prev.dead) {
      throw new HubError('conflict', `member ${req.memberId} is registered as a ${prev.role}, not a ${req.role}`, [{ path: 'body.role', message: `is ${req.role}; the live member of that id is a ${prev.role}` }]);
    }
    if (this.dying.has(req.memberId)) throw new HubError('unavailable', `member ${req.memberId} is being declared dead; register again in a moment`);
    const resumed = prev !== undefined && !prev.dead && req.incarnation !== undefined && req.incarnation === prev.incarnation;
    if (prev && !prev.dead && !resumed) this.markDead(prev, 'registered again as a new process', this.safeTime(prev.id, false));
    const base = this.members.get(req.memberId);
    const record: MemberRecord = {
      id: req.memberId,
      role: req.role,
      site: req.site,
      version: req.version,
      advertise: req.advertise,
      ports: req.ports,
      incarnation: resumed ? prev.incarnation : (base?.incarnation ?? 0) + 1,
      dead: false,
    };
    this.members.set(record.id, record);
    this.persist(record);
    const l = this.live.get(record.id);
    this.setLive(record.id, { seenAt: monotonicMs(), heartbeatAt: l?.heartbeatAt ?? null, counter: resumed ? (l?.counter ?? -1) : -1, applied: null, stats: null, reading: false });
    this.o.log.info({ member: record.id, role: record.role, incarnation: record.incarnation, resumed }, 'member registered');
    this.o.events.registered(record, resumed);
    return { record, resumed };
  }

  /** The member of this id and incarnation, alive; otherwise 409 (it must register again). */
  current(id: string, incarnation: number): MemberRecord {
    const m = this.members.get(id);
    if (!m || m.dead || m.incarnation !== incarnation) {
      throw new HubError('conflict', `member ${id} incarnation ${incarnation} is not registered (declared dead, or a new hub); register again`, [
        { path: 'body.incarnation', message: m ? `current incarnation is ${m.incarnation}${m.dead ? ' (dead)' : ''}` : 'unknown member' },
      ]);
    }
    return m;
  }

  heartbeat(req: HeartbeatRequest): MemberRecord {
    const m = this.current(req.memberId, req.incarnation);
    const now = monotonicMs();
    let l = this.live.get(m.id);
    if (!l) {
      l = { seenAt: now, heartbeatAt: null, counter: -1, applied: null, stats: null, reading: false };
      this.setLive(m.id, l);
    }
    // The timer is not moved: it fires at the deadline of an earlier sign of life, finds this one and re-arms (arm).
    l.seenAt = now;
    l.heartbeatAt = now;
    l.counter = Math.max(l.counter, req.counter);
    l.applied = req.applied;
    l.stats = req.stats ?? null;
    return m;
  }

  /** The stream of a member dropped: dead at once if its process is gone. */
  async streamDropped(id: string, incarnation: number): Promise<void> {
    const m = this.members.get(id);
    if (!m || m.dead || m.incarnation !== incarnation) return;
    const ports = [m.ports.management, ...Object.entries(m.ports).filter(([k]) => k !== 'management').map(([, p]) => p)].filter((p): p is number => p !== undefined).slice(0, 3);
    const started = monotonicMs();
    const current = () => {
      const now = this.members.get(id);
      return !!now && !now.dead && now.incarnation === incarnation && !this.o.streamConnected(id);
    };
    const gone = await processGone(m.advertise, ports, current);
    this.o.log.info({ member: id, incarnation, ports, gone, probedMs: Math.round(monotonicMs() - started) }, gone ? 'member stream dropped; its ports refuse' : 'member stream dropped; its ports still answer (left to the silence rule)');
    const now = this.members.get(id);
    if (gone && now && !now.dead && now.incarnation === incarnation) await this.declareDead(id, 'stream dropped and its ports refuse connections (process gone)', true);
  }

  /** Starts watching a member with this record of its signs of life (replacing, and disarming, any previous one). */
  private setLive(id: string, l: Live): void {
    const prev = this.live.get(id);
    if (prev) clearTimeout(prev.timer);
    this.live.set(id, l);
    this.arm(id, l);
  }

  /** While HTTP heartbeats are overdue, the storage heartbeat file is read this often (as the former sweep did). */
  private get storageReadEveryMs(): number {
    return Math.max(10, Math.floor(this.o.timing.heartbeatMs / 4));
  }

  /**
   * Arms the member's timer for its next due moment: 1.5 heartbeats after its
   * last sign of life (heartbeats overdue: read the storage file), then every
   * `storageReadEveryMs` until dead-after. A per-member deadline rather than
   * a periodic sweep: the sweep added up to one period (a quarter heartbeat)
   * to every silent death. Signs of life only move `seenAt` later, so a timer
   * armed for an earlier one fires early, finds nothing due and re-arms.
   */
  private arm(id: string, l: Live): void {
    clearTimeout(l.timer);
    if (this.stopped) return;
    const now = monotonicMs();
    const overdueAt = l.seenAt + this.o.timing.heartbeatMs * 1.5;
    const deadAt = l.seenAt + this.o.timing.deadAfterMs;
    const due = now < overdueAt ? overdueAt : Math.min(deadAt, now + this.storageReadEveryMs);
    // +1: a timer may fire a little before its delay on the monotonic clock; check() then re-arms.
    l.timer = setTimeout(() => this.check(id, l), Math.max(0, due - now) + 1);
    l.timer.unref();
  }

  /** The member's timer fired: declare it dead, read its storage heartbeat, or wait for the next due moment. */
  private check(id: string, l: Live): void {
    if (this.stopped || this.live.get(id) !== l) return;
    const m = this.members.get(id);
    if (!m || m.dead) {
      this.live.delete(id);
      return;
    }
    // A storage read in flight calls check() again when it completes.
    if (l.reading) return;
    const silent = monotonicMs() - l.seenAt;
    if (silent > this.o.timing.deadAfterMs) {
      // Already being declared dead (its stream dropped): that declaration ends it.
      if (this.dying.has(id)) return;
      // Re-armed (a timer, never a promise loop) should it somehow still be alive afterwards.
      void this.declareDead(id, `silent for ${Math.round(silent)} ms (dead after ${this.o.timing.deadAfterMs} ms)`, false).finally(() => {
        if (this.live.get(id) === l) this.arm(id, l);
      });
      return;
    }
    if (silent > this.o.timing.heartbeatMs * 1.5) {
      void this.readStorageHeartbeat(m, l).then(() => this.check(id, l));
      return;
    }
    this.arm(id, l);
  }

  /** Counts a grown storage counter of the current incarnation as a sign of life, observed when the read completes. */
  private async readStorageHeartbeat(m: MemberRecord, l: Live): Promise<void> {
    l.reading = true;
    try {
      const text = await fs.readFile(join(this.o.storageRoot, storageHeartbeatFiles(m.id).heartbeat), 'utf8');
      const observedAt = monotonicMs();
      const hb = StorageHeartbeat.safeParse(JSON.parse(text));
      if (hb.success && hb.data.incarnation === m.incarnation && hb.data.counter > l.counter) {
        l.counter = hb.data.counter;
        l.seenAt = Math.max(l.seenAt, observedAt);
      }
    } catch {
      // Missing or unreadable: no sign of life from the storage this round.
    } finally {
      l.reading = false;
    }
  }

  /**
   * Declares a member dead. `certain`: its process is gone, what it owned may
   * move at once; otherwise it may move once dead-after has passed since its
   * last sign of life.
   */
  async declareDead(id: string, reason: string, certain: boolean): Promise<void> {
    const m = this.members.get(id);
    if (!m || m.dead || this.dying.has(id)) return;
    this.dying.add(id);
    try {
      // Fence first: from here on the member cannot renew its lease through the storage...
      await this.writeFence(m.id, m.incarnation + 1, reason);
      // ...and a renewal it made before seeing the fence shows up in this read.
      const l = this.live.get(id);
      if (l) await this.readStorageHeartbeat(m, l);
      if (m.dead) return;
      this.markDead(m, reason, this.safeTime(id, certain));
    } finally {
      this.dying.delete(id);
    }
  }

  /** When the member's lease has surely lapsed: now if its process is gone, else dead-after past its last sign of life. */
  private safeTime(id: string, certain: boolean): number {
    const now = monotonicMs();
    const seen = this.live.get(id)?.seenAt;
    return certain || seen === undefined ? now : Math.max(now, seen + this.o.timing.deadAfterMs);
  }

  private markDead(m: MemberRecord, reason: string, safeAt: number): void {
    m.dead = true;
    m.incarnation++;
    this.persist(m);
    clearTimeout(this.live.get(m.id)?.timer);
    this.live.delete(m.id);
    this.failovers++;
    this.deaths.set(m.id, reason);
    this.o.log.warn({ member: m.id, role: m.role, reason, movesInMs: Math.max(0, Math.round(safeAt - monotonicMs())) }, 'member declared dead');
    // A registration that declares its predecessor dead has not written the fence yet.
    void this.writeFence(m.id, m.incarnation, reason);
    this.o.events.died(m, reason, safeAt);
  }

  private async writeFence(id: string, incarnation: number, reason: string): Promise<void> {
    const file = join(this.o.storageRoot, storageHeartbeatFiles(id).fence);
    try {
      await fs.mkdir(join(file, '..'), { recursive: true });
      await writeFileAtomic(file, JSON.stringify({ incarnation, reason }), { durable: true });
    } catch (err) {
      this.o.log.error({ err, member: id }, 'could not write the fence file');
    }
  }

  /** An operator removes a dead member from the list. */
  forget(id: string): void {
    this.o.assertActive();
    const m = this.members.get(id);
    if (!m) throw new HubError('not_found', `member ${id} does not exist`);
    if (!m.dead) throw new HubError('conflict', `member ${id} is alive; stop it first`);
    this.members.delete(id);
    this.o.db.prepare('DELETE FROM members WHERE id = ?').run(id);
  }

  streamConnected(id: string): boolean {
    return this.o.streamConnected(id);
  }
}
