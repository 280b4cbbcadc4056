import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../common/atomic-file';
import { monotonicMs } from '../common/clock';
import type { Logger } from '../common/log';
import {
  ClusterTiming,
  CLUSTER_PROTOCOL_VERSION,
  HeartbeatResponse,
  PlacementSnapshot,
  RegisterResponse,
  SettingsSnapshot,
  StorageFence,
  storageHeartbeatFiles,
  type MemberRole,
  type StreamEvent,
} from '../hub/protocol';
import { HubCallError, HubUnreachableError, type HubClient } from './hub-client';

/**
 * A member's side of the cluster protocol: register, heartbeat (over HTTP
 * and into its storage heartbeat file), hold the stream, follow placements,
 * proposals and settings, and keep a lease.
 *
 * The lease: each renewal (an answered heartbeat, or a storage heartbeat
 * written while the fence file does not name a newer incarnation) lets the
 * member serve for `leaseMs` from the moment it *started* that renewal, on
 * its own monotonic clock. The hub declares it dead only `deadAfterMs` after
 * its last sign of life, and leaseMs < deadAfterMs, so the member has
 * stopped before anything it served moves (DESIGN.md). A member that reaches
 * the storage but no hub keeps renewing through the storage: the hub is not
 * on the data path.
 *
 * What the member knows (incarnation, timing, placement, settings) is cached
 * in `<storage>/members/<id>/cluster-state.json`, so a member restarted while
 * no hub is reachable serves what it served before.
 */

export interface MemberHooks {
  /** A committed placement (also the one from registration). */
  placement?(snapshot: PlacementSnapshot, previous: PlacementSnapshot | undefined): void;
  /** A proposal: resolve once everything it takes from this member is released. */
  proposal?(proposal: number, snapshot: PlacementSnapshot): Promise<void>;
  /** New settings: apply them; the member then reports the version as applied. */
  settings?(snapshot: SettingsSnapshot): void | Promise<void>;
  /** Directory entries changed (`reset`: drop every cached entry). */
  directory?(change: { seq: number; changed: string[]; reset: boolean }): void;
  /** The lease lapsed (stop serving) or came back. */
  leaseChanged?(holds: boolean): void;
  /** This incarnation is over (declared dead, or a new incarnation was assigned): drop everything held. */
  reset?(why: string): void;
  /** Gauges reported with each heartbeat. */
  stats?(): Record<string, number>;
}

export interface ClusterMemberOptions {
  memberId: string;
  role: MemberRole;
  site: string;
  version: string;
  advertise: string;
  storageRoot: string;
  client: HubClient;
  log: Logger;
  hooks: MemberHooks;
}

const CachedState = z.object({
  memberId: z.string(),
  incarnation: z.number().int().nonnegative(),
  timing: ClusterTiming,
  placement: PlacementSnapshot,
  settings: SettingsSnapshot,
  directorySeq: z.number().int().nonnegative(),
});
type CachedState = z.infer<typeof CachedState>;

/** Until a hub has told us the timing: how often to retry registering. */
const REGISTER_RETRY_MS = 500;
/** Stream reconnects: first after this, doubling up to one heartbeat interval. */
const STREAM_RETRY_MIN_MS = 100;

export class ClusterMember {
  private ports: Record<string, number> = {};
  private state: CachedState | undefined;
  /** Registered with the hub in this process (not only from the cache). */
  private registered = false;
  private appliedSettings = 0;
  private counter = 0;
  private leaseUntil = -Infinity;
  private leaseHeld = false;
  private leaseTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private stream: { close(): void } | undefined;
  private streamRetryMs = STREAM_RETRY_MIN_MS;
  private streamTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private registering: Promise<void> | undefined;
  private lastHeartbeatOk = -Infinity;

  constructor(private readonly o: ClusterMemberOptions) {}

  private get cacheFile(): string {
    return join(this.o.storageRoot, 'members', this.o.memberId, 'cluster-state.json');
  }

  /** The incarnation this member acts as (from the hub, or the cache while no hub answered). */
  get incarnation(): number | undefined {
    return this.state?.incarnation;
  }

  get timing(): ClusterTiming | undefined {
    return this.state?.timing;
  }

  get placement(): PlacementSnapshot | undefined {
    return this.state?.placement;
  }

  get settings(): SettingsSnapshot | undefined {
    return this.state?.settings;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /** True while the lease holds (monotonic clock). */
  holdsLease(): boolean {
    return monotonicMs() < this.leaseUntil;
  }

  /** Milliseconds since the last answered HTTP heartbeat (metrics). */
  heartbeatAgeMs(): number | null {
    return Number.isFinite(this.lastHeartbeatOk) ? monotonicMs() - this.lastHeartbeatOk : null;
  }

  leaseRemainingMs(): number {
    return Math.max(0, this.leaseUntil - monotonicMs());
  }

  /**
   * Starts with the ports this member serves (probed by the hub when its
   * stream drops). Loads the cache, tries to register once, then keeps going
   * in the background; never throws for an absent hub.
   */
  async start(ports: Record<string, number>): Promise<void> {
    this.ports = ports;
    await this.loadCache();
    await this.registerOnce();
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.tickTimer, this.leaseTimer, this.streamTimer]) if (t) clearTimeout(t);
    this.stream?.close();
    this.o.client.close();
  }

  private async loadCache(): Promise<void> {
    try {
      const parsed = CachedState.safeParse(JSON.parse(await fs.readFile(this.cacheFile, 'utf8')));
      if (parsed.success && parsed.data.memberId === this.o.memberId) {
        this.state = parsed.data;
        this.o.log.info({ incarnation: parsed.data.incarnation, placementVersion: parsed.data.placement.version }, 'cluster: cached state loaded');
        this.o.hooks.placement?.(parsed.data.placement, undefined);
        await this.applySettings(parsed.data.settings);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.log.warn({ err }, 'cluster: cached state unreadable; starting without it');
    }
  }

  private saveCache(): void {
    const s = this.state;
    if (!s) return;
    void fs
      .mkdir(dirname(this.cacheFile), { recursive: true })
      .then(() => writeFileAtomic(this.cacheFile, JSON.stringify(s)))
      .catch((err: unknown) => this.o.log.warn({ err }, 'cluster: could not write the cached state'));
  }

  // ---- registration ----------------------------------------------------------------

  private registerOnce(): Promise<void> {
    this.registering ??= this.register().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  private async register(): Promise<void> {
    const body = {
      protocol: CLUSTER_PROTOCOL_VERSION,
      memberId: this.o.memberId,
      role: this.o.role,
      site: this.o.site,
      version: this.o.version,
      advertise: this.o.advertise,
      ports: this.ports,
      ...(this.state ? { incarnation: this.state.incarnation } : {}),
    };
    let r: RegisterResponse;
    try {
      r = await this.o.client.call('POST', '/v1/cluster/register', body, RegisterResponse, this.state?.timing.heartbeatMs ?? 2000);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'cluster: registration failed; retrying');
      return;
    }
    if (!r.resumed && this.state) this.resetHeld(`new incarnation ${r.incarnation} (was ${this.state.incarnation})`);
    const previous = r.resumed ? this.state?.placement : undefined;
    this.state = { memberId: this.o.memberId, incarnation: r.incarnation, timing: r.timing, placement: r.placement, settings: r.settings, directorySeq: r.directorySeq };
    this.registered = true;
    this.o.log.info({ incarnation: r.incarnation, resumed: r.resumed, hub: r.hub.id, placementVersion: r.placement.version }, 'cluster: registered');
    // Registration is an answered call: it renews the lease like a heartbeat.
    this.renew(monotonicMs() - r.timing.heartbeatMs);
    this.saveCache();
    this.o.hooks.placement?.(r.placement, previous);
    await this.applySettings(r.settings);
    this.o.hooks.directory?.({ seq: r.directorySeq, changed: [], reset: true });
    this.openStream();
  }

  /** This incarnation is over: drop everything, stop serving until registered again. */
  private resetHeld(why: string): void {
    this.o.log.warn({ why }, 'cluster: this incarnation is over; dropping everything it held');
    this.registered = false;
    this.leaseUntil = -Infinity;
    this.updateLease();
    this.o.hooks.reset?.(why);
  }

  /** The hub no longer knows this incarnation: drop everything and register as a new one. */
  private fenced(why: string): void {
    if (this.state) this.resetHeld(why);
    this.state = undefined;
    this.stream?.close();
    this.stream = undefined;
    void this.registerOnce();
  }

  // ---- heartbeats and the lease ---------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    const every = this.state?.timing.heartbeatMs ?? REGISTER_RETRY_MS;
    this.tickTimer = setTimeout(() => this.tick(), every);
    if (!this.registered && !this.registering) void this.registerOnce();
    // One counter and one start time per tick for both channels (hub/protocol HeartbeatRequest: the storage file
    // carries the same counter). The hub counts a storage counter only when it is higher than the last HTTP one, at
    // the moment it reads it; were the storage write numbered apart, the write that goes with an answered heartbeat
    // would look newer, and a silent member would seem alive until the hub read it (up to 1.5 heartbeats later).
    // Safe: both renewals start at `at`, before the HTTP request leaves, so the hub receives heartbeat n after the
    // storage renewal n began, and the lease it gives (leaseMs from `at`) ends before dead-after from that receipt.
    const n = ++this.counter;
    const at = monotonicMs();
    if (this.registered) void this.httpHeartbeat(n, at);
    void this.storageHeartbeat(n, at);
  }

  private async httpHeartbeat(counter: number, sent: number): Promise<void> {
    const s = this.state;
    if (!s) return;
    try {
      const r = await this.o.client.call(
        'POST',
        '/v1/cluster/heartbeat',
        { memberId: this.o.memberId, incarnation: s.incarnation, counter, applied: { placement: s.placement.version, settings: this.appliedSettings }, stats: this.o.hooks.stats?.() ?? {} },
        HeartbeatResponse,
        s.timing.heartbeatMs,
      );
      if (this.state !== s) return;
      this.lastHeartbeatOk = monotonicMs();
      this.renew(sent, r.leaseMs);
    } catch (err) {
      if (err instanceof HubCallError && err.status === 409) this.fenced('the hub does not know this incarnation any more');
      else if (!(err instanceof HubUnreachableError)) this.o.log.warn({ err: (err as Error).message }, 'cluster: heartbeat failed');
    }
  }

  /**
   * Writes the storage heartbeat, then reads the fence file: a renewal
   * counts only if no newer incarnation is named *after* our write, which is
   * the order the hub's final check relies on (hub/membership/registry.ts).
   */
  private async storageHeartbeat(counter: number, started: number): Promise<void> {
    const s = this.state;
    if (!s) return;
    const files = storageHeartbeatFiles(this.o.memberId);
    try {
      const hbFile = join(this.o.storageRoot, files.heartbeat);
      await fs.mkdir(dirname(hbFile), { recursive: true });
      await writeFileAtomic(hbFile, JSON.stringify({ incarnation: s.incarnation, counter }));
      let fence: StorageFence | undefined;
      try {
        const parsed = StorageFence.safeParse(JSON.parse(await fs.readFile(join(this.o.storageRoot, files.fence), 'utf8')));
        fence = parsed.success ? parsed.data : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (this.state !== s) return;
      if (fence && fence.incarnation > s.incarnation) {
        this.fenced(`fenced by the hub: ${fence.reason}`);
        return;
      }
      this.renew(started);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'cluster: storage heartbeat failed');
    }
  }

  private renew(startedAt: number, leaseMs?: number): void {
    const t = this.state?.timing;
    if (!t) return;
    this.leaseUntil = Math.max(this.leaseUntil, startedAt + (leaseMs ?? t.leaseMs));
    this.updateLease();
  }

  private updateLease(): void {
    const holds = this.holdsLease();
    if (holds !== this.leaseHeld) {
      this.leaseHeld = holds;
      this.o.log[holds ? 'info' : 'warn']({ holds }, holds ? 'cluster: lease held' : 'cluster: lease lapsed; not serving');
      this.o.hooks.leaseChanged?.(holds);
    }
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    if (holds && !this.stopped) this.leaseTimer = setTimeout(() => this.updateLease(), Math.max(1, this.leaseUntil - monotonicMs() + 1));
  }

  // ---- the stream ---------------------------------------------------------------------

  private openStream(): void {
    const s = this.state;
    if (!s || this.stopped) return;
    this.stream?.close();
    const stream = this.o.client.openStream(
      `/v1/cluster/stream?member=${encodeURIComponent(this.o.memberId)}&incarnation=${s.incarnation}`,
      (e) => {
        this.streamRetryMs = STREAM_RETRY_MIN_MS;
        this.onEvent(e);
      },
      (why) => {
        if (this.stream !== stream || this.stopped) return;
        this.stream = undefined;
        this.o.log.info({ why }, 'cluster: hub stream ended; reconnecting');
        if (why.includes('409')) {
          this.fenced('the hub does not know this incarnation any more');
          return;
        }
        this.streamTimer = setTimeout(() => {
          if (this.registered && this.state === s) this.openStream();
          else if (this.state) void this.registerOnce();
        }, this.streamRetryMs);
        this.streamRetryMs = Math.min(this.streamRetryMs * 2, s.timing.heartbeatMs);
      },
    );
    this.stream = stream;
  }

  private onEvent(e: StreamEvent): void {
    const s = this.state;
    if (!s) return;
    switch (e.type) {
      case 'hello':
        if (e.placementVersion !== s.placement.version || e.settingsVersion !== s.settings.version) void this.refresh();
        if (e.directorySeq !== s.directorySeq) {
          s.directorySeq = e.directorySeq;
          this.o.hooks.directory?.({ seq: e.directorySeq, changed: [], reset: true });
        }
        return;
      case 'placement': {
        if (e.snapshot.version < s.placement.version) return;
        const previous = s.placement;
        s.placement = e.snapshot;
        // Debug trace of the failover path (hub "placement committed" → here → the new owner serves).
        this.o.log.debug({ version: e.snapshot.version }, 'cluster: placement received');
        this.saveCache();
        this.o.hooks.placement?.(e.snapshot, previous);
        return;
      }
      case 'proposal':
        void this.handleProposal(e.proposal, e.snapshot);
        return;
      case 'settings':
        s.settings = e.settings;
        this.saveCache();
        void this.applySettings(e.settings);
        return;
      case 'directory': {
        // A gap in the sequence means missed changes: drop everything.
        const gap = e.seq !== s.directorySeq + 1;
        s.directorySeq = e.seq;
        this.o.hooks.directory?.({ seq: e.seq, changed: e.changed, reset: e.reset || gap });
        return;
      }
      case 'fenced':
        this.fenced(e.reason);
        return;
      case 'ping':
        return;
      case 'queue':
        // Queue folders are given to gateways (HubLink), never to a node.
        return;
    }
  }

  /** After a (re)connected stream shows newer versions than ours: fetch the placement; settings come with the next register. */
  private async refresh(): Promise<void> {
    const s = this.state;
    if (!s) return;
    try {
      const p = await this.o.client.call('GET', '/v1/cluster/placement', undefined, PlacementSnapshot, s.timing.heartbeatMs * 2);
      if (this.state !== s || p.version <= s.placement.version) return;
      const previous = s.placement;
      s.placement = p;
      this.saveCache();
      this.o.hooks.placement?.(p, previous);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'cluster: placement refresh failed');
    }
  }

  private async handleProposal(proposal: number, snapshot: PlacementSnapshot): Promise<void> {
    const s = this.state;
    if (!s) return;
    try {
      await this.o.hooks.proposal?.(proposal, snapshot);
    } catch (err) {
      this.o.log.error({ err, proposal }, 'cluster: releasing for a proposal failed; not acknowledging');
      return;
    }
    // The hub waits up to dead-after for the ack; a few quick retries cover a hub failover in between.
    for (let i = 0; i < 3 && this.state === s; i++) {
      try {
        await this.o.client.call('POST', '/v1/cluster/ack', { memberId: this.o.memberId, incarnation: s.incarnation, proposal }, z.object({ ok: z.literal(true) }), s.timing.heartbeatMs);
        return;
      } catch (err) {
        if (err instanceof HubCallError && err.status === 409) {
          this.fenced('the hub does not know this incarnation any more');
          return;
        }
        await new Promise((r) => setTimeout(r, s.timing.heartbeatMs / 4));
      }
    }
  }

  private async applySettings(snapshot: SettingsSnapshot): Promise<void> {
    try {
      await this.o.hooks.settings?.(snapshot);
      this.appliedSettings = snapshot.version;
    } catch (err) {
      this.o.log.error({ err, version: snapshot.version }, 'cluster: applying settings failed; keeping the previous ones');
    }
  }
}
