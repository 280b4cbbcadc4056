import { monotonicMs } from '../../common/clock';
import type { Logger } from '../../common/log';
import type { HubDb } from '../db';
import { HubError } from '../errors';
import {
  applyPlacementChange,
  emptyPlacement,
  PlacementRules,
  PlacementSnapshot,
  type PlacementChange,
  type PlacementNode,
  type PlacementSnapshot as Snapshot,
  type StreamEvent,
} from '../protocol';

/**
 * Placement on the hub: the committed snapshot (state.sqlite `placement`,
 * one row per version), and the changes waiting to become versions.
 *
 * A change that can take mailboxes away from a live node goes in two
 * phases, so a mailbox is never open on two nodes:
 *
 *   1. proposal: the next snapshot is sent to every live active node; each
 *      closes and flushes the mailboxes it would lose (sessions get BYE,
 *      deliveries 450 4.2.0 and are retried), stops opening them, and acks;
 *   2. commit: once all have acked, the snapshot is stored as the new version
 *      and sent to every member; the new owners open at that version (epoch).
 *
 * A node that does not ack within dead-after is declared dead (its lease is
 * ended through its fence file) and the move goes on without it once its
 * lease has surely lapsed. A change that only takes dead nodes off the ring
 * moves nothing away from a live node and is committed at once: that is the
 * failover path, and its speed is what `npm run bench -- failover` measures.
 */

export interface PlacementMembers {
  /** Live members that are nodes. */
  liveNodes(): string[];
  send(memberId: string, event: StreamEvent): boolean;
  broadcast(event: StreamEvent): void;
  /** A node that would not ack: declare it dead (not certain: it may still be running). */
  declareDead(memberId: string, reason: string): Promise<void>;
}

interface Queued {
  change: PlacementChange;
  /** Node ids the change is about: a later change for the same node waits for this one. */
  keys: string[];
  /** Monotonic ms before which it must not commit (a dead node's lease is not yet surely over). */
  notBefore: number;
  resolve: (version: number) => void;
  reject: (err: unknown) => void;
}

interface Pending {
  proposal: number;
  snapshot: Snapshot;
  waiting: Set<string>;
  timer: NodeJS.Timeout;
  done: () => void;
}

/** Committed versions kept in state.sqlite (the newest is what counts; older rows are for operators). */
const VERSIONS_KEPT = 100;

export class PlacementManager {
  private committed: Snapshot;
  private rules: PlacementRules;
  private readonly queue: Queued[] = [];
  private pending: Pending | undefined;
  private proposalSeq = 0;
  private working = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: HubDb,
    private readonly members: PlacementMembers,
    private readonly o: { log: Logger; ackTimeoutMs: number; assertActive: () => void },
  ) {
    const row = db.prepare<[], { snapshot: string }>('SELECT snapshot FROM placement ORDER BY version DESC LIMIT 1').get();
    this.committed = row ? PlacementSnapshot.parse(JSON.parse(row.snapshot)) : emptyPlacement();
    this.rules = new PlacementRules(this.committed);
  }

  get snapshot(): Snapshot {
    return this.committed;
  }

  get current(): PlacementRules {
    return this.rules;
  }

  get pendingProposal(): { proposal: number; waitingFor: string[] } | null {
    return this.pending ? { proposal: this.pending.proposal, waitingFor: [...this.pending.waiting].sort() } : null;
  }

  /** The proposal a node still has to ack (sent again on a new stream). */
  proposalFor(memberId: string): StreamEvent | undefined {
    const p = this.pending;
    return p && p.waiting.has(memberId) ? { type: 'proposal', proposal: p.proposal, snapshot: p.snapshot } : undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.pending) clearTimeout(this.pending.timer);
    for (const q of this.queue.splice(0)) q.reject(new HubError('not_active', 'this hub stopped being the active one'));
  }

  // ---- requests ------------------------------------------------------------------

  /** Queues a change; resolves with the version that committed it. */
  submit(change: PlacementChange, keys: string[] = [], notBefore = 0): Promise<number> {
    this.o.assertActive();
    return new Promise((resolve, reject) => {
      this.queue.push({ change, keys, notBefore, resolve, reject });
      this.kick();
    });
  }

  /** A node registered: on the ring unless an operator drained it. */
  nodeUp(n: Omit<PlacementNode, 'state'>, resumed: boolean): Promise<number> | undefined {
    const prev = this.committed.nodes.find((x) => x.id === n.id);
    const state = prev?.state === 'drained' ? 'drained' : 'active';
    const next: PlacementNode = { ...n, state };
    if (resumed && prev && prev.state === state && prev.incarnation === n.incarnation && prev.advertise === n.advertise && JSON.stringify(prev.ports) === JSON.stringify(n.ports)) {
      return undefined; // a hub failover: nothing changes
    }
    return this.submit({ nodes: [next] }, [n.id]);
  }

  /** A node was declared dead: off the ring once its lease is surely over (`safeAt`, monotonic ms). */
  nodeDown(id: string, incarnation: number, safeAt: number): Promise<number> | undefined {
    const prev = this.committed.nodes.find((x) => x.id === id);
    if (!prev) return undefined;
    return this.submit({ nodes: [{ ...prev, state: 'dead', incarnation }] }, [id], safeAt);
  }

  drain(id: string): Promise<number> {
    return this.submit({ nodes: [{ ...this.knownNode(id), state: 'drained' }] }, [id]);
  }

  /** Back on the ring (if alive; a dead node returns when it registers again). */
  undrain(id: string, alive: boolean): Promise<number> {
    return this.submit({ nodes: [{ ...this.knownNode(id), state: alive ? 'active' : 'dead' }] }, [id]);
  }

  moveUser(address: string, node: string | null): Promise<number> {
    if (node !== null) this.knownNode(node, 'body.node');
    return this.submit({ overrides: { [address]: node } });
  }

  /** Domain placement modes and alias domains from the directory; only what differs becomes a change. */
  syncDomains(routing: { pinned: Record<string, string[]>; aliases: Record<string, string> }): Promise<number> | undefined {
    const s = this.committed;
    const pinned: Record<string, string[] | null> = {};
    for (const [d, nodes] of Object.entries(routing.pinned)) if (JSON.stringify(s.pinned[d]) !== JSON.stringify(nodes)) pinned[d] = nodes;
    for (const d of Object.keys(s.pinned)) if (!(d in routing.pinned)) pinned[d] = null;
    const aliases: Record<string, string | null> = {};
    for (const [a, t] of Object.entries(routing.aliases)) if (s.domainAliases[a] !== t) aliases[a] = t;
    for (const a of Object.keys(s.domainAliases)) if (!(a in routing.aliases)) aliases[a] = null;
    if (Object.keys(pinned).length === 0 && Object.keys(aliases).length === 0) return undefined;
    return this.submit({ pinned, domainAliases: aliases });
  }

  private knownNode(id: string, path = 'body.node'): PlacementNode {
    const n = this.committed.nodes.find((x) => x.id === id);
    if (!n) throw new HubError('not_found', `node ${id} is not known to the placement`, [{ path, message: 'no node of that id has ever registered' }]);
    return n;
  }

  /** A node acknowledged a proposal. */
  ack(memberId: string, proposal: number): void {
    const p = this.pending;
    if (!p || p.proposal !== proposal) return;
    p.waiting.delete(memberId);
    if (p.waiting.size === 0) p.done();
  }

  /** A node died while a proposal waits for it: it will not ack, and need not (its lease ends on its own). */
  forgetWaiter(memberId: string): void {
    const p = this.pending;
    if (!p) return;
    p.waiting.delete(memberId);
    if (p.waiting.size === 0) p.done();
  }

  // ---- processing -------------------------------------------------------------------

  private kick(): void {
    if (this.working || this.stopped) return;
    this.working = true;
    void this.work().finally(() => {
      this.working = false;
      if (!this.stopped && this.queue.some((q) => q.notBefore <= monotonicMs())) this.kick();
    });
  }

  /** The first queued change that is due and has no earlier change for the same node before it. */
  private nextDue(): Queued | undefined {
    const now = monotonicMs();
    const blocked = new Set<string>();
    for (const q of this.queue) {
      const free = q.keys.every((k) => !blocked.has(k));
      if (free && q.notBefore <= now) return q;
      for (const k of q.keys) blocked.add(k);
    }
    return undefined;
  }

  private scheduleWake(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.queue.length === 0 || this.stopped) return;
    const soonest = Math.min(...this.queue.map((q) => q.notBefore));
    this.wakeTimer = setTimeout(() => this.kick(), Math.max(1, soonest - monotonicMs()));
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const q = this.nextDue();
      if (!q) {
        this.scheduleWake();
        return;
      }
      this.queue.splice(this.queue.indexOf(q), 1);
      try {
        q.resolve(await this.apply(q.change));
      } catch (err) {
        q.reject(err);
      }
    }
  }

  private async apply(change: PlacementChange): Promise<number> {
    this.o.assertActive();
    const next = applyPlacementChange(this.committed, change);
    if (needsProposal(this.committed, change)) {
      const waitFor = this.members.liveNodes().filter((id) => this.committed.nodes.some((n) => n.id === id && n.state === 'active'));
      await this.propose(next, waitFor);
      this.o.assertActive();
      // A node that died meanwhile is recorded by its own queued change, committed right after this one.
    }
    this.commit(next);
    return next.version;
  }

  private propose(snapshot: Snapshot, waitFor: string[]): Promise<void> {
    const proposal = ++this.proposalSeq;
    const event: StreamEvent = { type: 'proposal', proposal, snapshot };
    return new Promise<void>((resolve) => {
      const waiting = new Set(waitFor);
      const done = () => {
        clearTimeout(timer);
        if (this.pending?.proposal === proposal) this.pending = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        const late = [...waiting];
        this.o.log.warn({ proposal, late }, 'placement proposal: nodes did not acknowledge in time; declaring them dead');
        // Their deaths queue changes that commit once their leases are surely over; this proposal goes on without them.
        for (const id of late) void this.members.declareDead(id, `did not acknowledge placement proposal ${proposal}`);
        done();
      }, this.o.ackTimeoutMs);
      this.pending = { proposal, snapshot, waiting, timer, done };
      if (waiting.size === 0) {
        done();
        return;
      }
      this.o.log.info({ proposal, version: snapshot.version, waitFor }, 'placement proposal sent');
      for (const id of waitFor) if (!this.members.send(id, event)) this.o.log.warn({ proposal, node: id }, 'placement proposal: node has no stream; it will be declared dead if it does not ack');
    });
  }

  private commit(next: Snapshot): void {
    this.o.assertActive();
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO placement (version, snapshot) VALUES (?, ?)').run(next.version, JSON.stringify(next));
      this.db.prepare('DELETE FROM placement WHERE version <= ?').run(next.version - VERSIONS_KEPT);
    })();
    this.committed = next;
    this.rules = new PlacementRules(next);
    this.o.log.info({ version: next.version, ring: this.rules.ring }, 'placement committed');
    this.members.broadcast({ type: 'placement', snapshot: next });
  }
}

/**
 * True when the change may take a mailbox from a live node: anything but
 * node entries that only leave the ring by dying or keep their state.
 */
export function needsProposal(before: Snapshot, change: PlacementChange): boolean {
  const keys = (o: object | undefined) => Object.keys(o ?? {}).length;
  if (keys(change.overrides) + keys(change.pinned) + keys(change.domainAliases) > 0) return true;
  for (const n of change.nodes ?? []) {
    const prev = before.nodes.find((x) => x.id === n.id);
    const wasActive = prev?.state === 'active';
    if (n.state === 'active' && !wasActive) return true; // joins the ring: others lose its share
    if (wasActive && n.state === 'drained') return true; // alive, must release first
  }
  return false;
}
