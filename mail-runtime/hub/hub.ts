import { join } from 'node:path';
import type { Logger } from '../common/log';
import type { Pem } from './ca';
import { DIRECTORY_DB_FILE, DIRECTORY_MIGRATIONS, openHubDb, STATE_DB_FILE, STATE_MIGRATIONS, type HubDb } from './db';
import { DirectoryStore } from './directory';
import { Activity, ActivityFile, ACTIVITY_PERSIST_MS } from './activity';
import { notActive } from './errors';
import { HubLease } from './lease';
import { MemberRegistry, Streams, type MemberRecord } from './membership';
import { PlacementManager } from './placement';
import { CLUSTER_PROTOCOL_VERSION, storageHeartbeatFiles, type ClusterTiming, type HubInfo, type PlacementNode, type RegisterRequest, type RegisterResponse, type StreamEvent } from './protocol';
import { QueueTakeovers } from './queues';
import { SettingsStore } from './settings';
import { LoginFailureBoard } from './throttle';

/**
 * The hub role: directory, placement, membership and settings while this
 * hub holds the lease; a standby otherwise (every call answered `not_active`
 * with the active hub's URL). Everything it knows is on the shared storage
 * under `<storage>/hub/`, so the standby takes over where the active left.
 */
export interface HubOptions {
  memberId: string;
  /** Base URL members and operators reach this hub at. */
  url: string;
  storageRoot: string;
  timing: ClusterTiming;
  log: Logger;
  /** The cluster CA (certificate and key) when this hub may issue member certificates. */
  ca?: Pem;
  /** Lifetime of the certificates it signs for members (config `memberCertificateSeconds`). */
  memberCertificateMs?: number;
  /** Called when the hub becomes active or standby (metrics, readiness). */
  onRoleChange?: (active: boolean) => void;
  /**
   * Who decides this hub is active. Default: the hub lease on the shared
   * storage (./lease). A failover-pair member passes its site lease instead
   * (mail-runtime/failover/member.ts): one member per site, so the site
   * lease already says which hub may write, and a promoted standby's hub is
   * active the moment it holds it, not `deadAfterSeconds` later.
   */
  lease?: (events: ActiveLeaseEvents) => ActiveLease;
  /**
   * SQLite locking of the hub's files (./db.ts). Default `exclusive`: only
   * the lease holder opens them. `normal` for a hub that may be frozen
   * (SIGSTOP, a VM pause) with the files open while its successor starts:
   * an idle connection then holds no lock, and the lease fences the writer.
   */
  dbLocking?: 'exclusive' | 'normal';
  /**
   * How long a dead gateway stays dead before the queue folders it holds
   * go to live gateways (config `gatewayQueueTakeoverSeconds`, ./queues);
   * 0 or absent: never (a failover pair's member takes over on its own).
   */
  queueTakeoverMs?: number;
  /**
   * A failover-pair member's hub part (mail-runtime/failover/site-hub.ts):
   * no node registers with it, because the member's own node part serves
   * every mailbox under the site lease. The placement routes then answer
   * with that node as the only owner, at the site epoch (the fencing token
   * its store writes check), instead of an empty ring; moves and drains are
   * refused (there is no other node to move to). Undefined until the node
   * part listens.
   */
  soleNode?: () => SoleNode | undefined;
}

/** The one node of a hub whose member serves every mailbox itself (HubOptions.soleNode). */
export interface SoleNode {
  node: PlacementNode;
  /** The epoch every mailbox is opened with (the site lease's). */
  epoch: number;
}

/** What a lease tells the hub. */
export interface ActiveLeaseEvents {
  /** This hub became active with `epoch`. */
  onActive: (epoch: number) => Promise<void> | void;
  /** This hub is no longer active. */
  onStandby: (why: string) => Promise<void> | void;
}

/** What the hub asks of its lease (./lease HubLease is one). */
export interface ActiveLease {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while this hub may write. */
  holds(): boolean;
  readonly currentEpoch: number;
  /** The active hub's URL, for `not_active` answers. */
  readonly activeUrl: string | undefined;
}

/** What exists only while this hub is active. */
export interface ActiveHub {
  epoch: number;
  directory: DirectoryStore;
  settings: SettingsStore;
  members: MemberRegistry;
  placement: PlacementManager;
  queues: QueueTakeovers;
}

export class Hub {
  readonly streams: Streams;
  /** The dashboard's timeline and last hour of member figures (memory, written to the storage while active). */
  readonly activity = new Activity();
  /** Failed logins per (user, client address) over every member (cluster-wide login throttling). */
  readonly logins = new LoginFailureBoard();
  private readonly activityFile: ActivityFile;
  private persistTimer: NodeJS.Timeout | undefined;
  private readonly lease: ActiveLease;
  private state: (ActiveHub & { dirDb: HubDb; stateDb: HubDb }) | undefined;

  constructor(readonly o: HubOptions) {
    this.activityFile = new ActivityFile(join(o.storageRoot, 'hub', 'activity.json'), this.activity);
    this.streams = new Streams((id, inc) => {
      void this.state?.members.streamDropped(id, inc);
    });
    const events: ActiveLeaseEvents = { onActive: (epoch) => this.becomeActive(epoch), onStandby: () => this.becomeStandby() };
    this.lease =
      o.lease?.(events) ??
      new HubLease({
        dir: join(o.storageRoot, 'hub', 'lease'),
        holder: o.memberId,
        url: o.url,
        renewMs: o.timing.heartbeatMs,
        leaseMs: o.timing.leaseMs,
        takeoverAfterMs: o.timing.deadAfterMs,
        log: o.log,
        ...events,
      });
  }

  async start(): Promise<void> {
    await this.lease.start();
  }

  async stop(): Promise<void> {
    // While the lease is still ours: the standby that takes over reads the last hour from here.
    if (this.isActive) await this.persistActivity();
    await this.lease.stop();
    await this.becomeStandby();
  }

  get isActive(): boolean {
    return this.state !== undefined && this.lease.holds();
  }

  info(): HubInfo {
    return { id: this.o.memberId, epoch: this.lease.currentEpoch, url: this.o.url };
  }

  get activeUrl(): string | undefined {
    return this.lease.activeUrl;
  }

  /** Throws `not_active` unless this hub holds the lease now. */
  assertActive = (): void => {
    if (!this.state || !this.lease.holds()) throw notActive(this.lease.activeUrl === this.o.url ? undefined : this.lease.activeUrl);
  };

  /** The active hub's services, or `not_active`. */
  active(): ActiveHub {
    this.assertActive();
    return this.state!;
  }

  /**
   * Writes the activity file, only while this hub holds the lease: a hub
   * that lost it must not overwrite what the new active hub writes. (A
   * write racing the lease's expiry can still land; it holds dashboard
   * history only, and the new hub's next write replaces it.)
   */
  private async persistActivity(): Promise<void> {
    if (!this.lease.holds()) return;
    await this.activityFile.save().catch((err: unknown) => this.o.log.warn({ err }, 'hub: writing the activity history failed'));
  }

  private async becomeActive(epoch: number): Promise<void> {
    const dir = join(this.o.storageRoot, 'hub');
    // The previous active hub's last hour, before anything new is recorded.
    await this.activityFile.load().catch((err: unknown) => this.o.log.warn({ err }, 'hub: the activity history on the storage is unreadable; starting without it'));
    const dirDb = openHubDb(join(dir, DIRECTORY_DB_FILE), DIRECTORY_MIGRATIONS, this.o.dbLocking);
    const stateDb = openHubDb(join(dir, STATE_DB_FILE), STATE_MIGRATIONS, this.o.dbLocking);
    const log = this.o.log;
    const directory = new DirectoryStore(dirDb, {
      assertActive: this.assertActive,
      onChange: (c) => this.streams.broadcast({ type: 'directory', seq: c.seq, changed: c.changed, reset: c.reset }),
    });
    const settings = new SettingsStore(stateDb, this.assertActive, (s) => this.streams.broadcast({ type: 'settings', settings: s }));
    // eslint-disable-next-line prefer-const -- the registry's events need the placement, which needs the registry
    let placement: PlacementManager;
    // eslint-disable-next-line prefer-const -- likewise the queue takeovers, which ask the registry for live gateways
    let queues: QueueTakeovers;
    const members = new MemberRegistry({
      db: stateDb,
      storageRoot: this.o.storageRoot,
      timing: this.o.timing,
      log,
      assertActive: this.assertActive,
      streamConnected: (id) => this.streams.has(id),
      events: {
        registered: (m, resumed) => {
          this.activity.joined(m.id, resumed);
          this.activity.record(resumed ? 'member-rejoined' : 'member-joined', m.id, `${m.role} ${m.id} (incarnation ${m.incarnation}) ${resumed ? 'resumed with this hub' : 'registered'}`);
          if (m.role === 'gateway') queues.alive(m.id);
          if (m.role !== 'node') return;
          placement.nodeUp({ id: m.id, site: m.site, advertise: m.advertise, ports: m.ports, incarnation: m.incarnation }, resumed)?.catch((err: unknown) => log.error({ err, node: m.id }, 'placement: node join failed'));
        },
        died: (m, reason, safeAt) => {
          this.activity.died(m.id);
          this.activity.record('member-dead', m.id, `${m.role} ${m.id} declared dead: ${reason}`);
          this.streams.close(m.id, { type: 'fenced', reason });
          if (m.role === 'gateway') queues.died(m.id);
          if (m.role !== 'node') return;
          placement.forgetWaiter(m.id);
          placement.nodeDown(m.id, m.incarnation, safeAt)?.catch((err: unknown) => log.error({ err, node: m.id }, 'placement: moving a dead node’s mailboxes failed'));
        },
      },
    });
    placement = new PlacementManager(
      stateDb,
      {
        liveNodes: () => members.all().filter((m) => m.record.role === 'node' && !m.record.dead).map((m) => m.record.id),
        send: (id, e) => this.streams.send(id, e),
        broadcast: (e) => this.streams.broadcast(e),
        declareDead: (id, reason) => members.declareDead(id, reason, false),
      },
      { log, ackTimeoutMs: this.o.timing.deadAfterMs, assertActive: this.assertActive },
    );
    const gateways = (dead: boolean) => members.all().filter((m) => m.record.role === 'gateway' && m.record.dead === dead).map((m) => m.record.id);
    queues = new QueueTakeovers({
      db: stateDb,
      storageRoot: this.o.storageRoot,
      graceMs: this.o.queueTakeoverMs ?? 0,
      // Markers are read again this often: a lost assignment is sent again, a gateway that died holding one is replaced.
      intervalMs: Math.max(1000, this.o.timing.heartbeatMs * 2),
      log,
      active: () => this.isActive,
      liveGateways: () => gateways(false),
      deadGateways: () => gateways(true),
      send: (id, e) => this.streams.send(id, e),
      record: (to, detail) => this.activity.record('queue-takeover', to, detail),
    });
    this.state = { epoch, directory, settings, members, placement, queues, dirDb, stateDb };
    members.start();
    queues.start();
    // Nodes the placement believes alive but the member list does not (the previous hub died mid-change) go through the normal death path.
    for (const n of placement.snapshot.nodes) {
      if (n.state !== 'dead' && !members.isLive(n.id)) placement.nodeDown(n.id, members.get(n.id)?.incarnation ?? n.incarnation, 0)?.catch(() => undefined);
    }
    placement.syncDomains(directory.domainRouting())?.catch((err: unknown) => log.error({ err }, 'placement: domain sync failed'));
    log.info({ epoch, placementVersion: placement.snapshot.version, settingsVersion: settings.current().version }, 'hub active');
    this.activity.record('hub-active', this.o.memberId, `hub ${this.o.memberId} became active (lease epoch ${epoch})`);
    clearInterval(this.persistTimer);
    this.persistTimer = setInterval(() => void this.persistActivity(), ACTIVITY_PERSIST_MS);
    this.persistTimer.unref();
    this.o.onRoleChange?.(true);
  }

  private async becomeStandby(): Promise<void> {
    const s = this.state;
    if (!s) return;
    this.state = undefined;
    clearInterval(this.persistTimer);
    this.persistTimer = undefined;
    s.members.stop();
    s.queues.stop();
    s.placement.stop();
    this.streams.closeAll();
    s.dirDb.close();
    s.stateDb.close();
    this.o.log.warn('hub standby');
    this.activity.record('hub-standby', this.o.memberId, `hub ${this.o.memberId} became standby`);
    this.o.onRoleChange?.(false);
  }

  // ---- member calls that need more than one service ------------------------------------

  register(req: RegisterRequest): RegisterResponse {
    const a = this.active();
    const { record, resumed } = a.members.register(req);
    return {
      protocol: CLUSTER_PROTOCOL_VERSION,
      hub: this.info(),
      incarnation: record.incarnation,
      resumed,
      timing: this.o.timing,
      placement: a.placement.snapshot,
      settings: a.settings.current(),
      directorySeq: a.directory.sequence,
      storageHeartbeat: storageHeartbeatFiles(record.id).heartbeat,
    };
  }

  /** What a new stream starts with: hello, then a proposal the member still owes an ack for. */
  streamStart(m: MemberRecord): StreamEvent[] {
    const a = this.active();
    const hello: StreamEvent = {
      type: 'hello',
      hub: this.info(),
      placementVersion: a.placement.snapshot.version,
      settingsVersion: a.settings.current().version,
      directorySeq: a.directory.sequence,
    };
    const owed = a.placement.proposalFor(m.id);
    return owed ? [hello, owed] : [hello];
  }

  /** After a domain change: pinned sets and alias domains are placement rules too. */
  async syncDomains(): Promise<void> {
    const a = this.active();
    await a.placement.syncDomains(a.directory.domainRouting());
  }
}
