import { createHash } from 'node:crypto';
import { z } from 'zod';
import { address, domain, domainOf, localPartOf, memberId, version } from './common';

/**
 * Placement: which node owns which mailbox, and since which version.
 *
 * The hub sends every member the *rules*, never a per-user table, so a proxy
 * or gateway routes a million users without holding them, and the hub is off
 * the data path:
 *
 *   owner(address) = explicit override (if its node is active)
 *                 ?? consistent-hash ring of the active nodes of the domain's
 *                    pinned set (if the domain is pinned and one is active)
 *                 ?? consistent-hash ring of all active nodes
 *
 * after a domain alias is replaced by its target domain. Every change of the
 * rules is a new placement version (monotonic, persisted by the hub). The
 * snapshot carries the recent history as reverse deltas, so anyone can
 * compute the version at which the current owner acquired a mailbox: that is
 * the mailbox's epoch, the fencing token the owner opens the store with
 * (mail-runtime/store/epoch.ts). A later owner always acquires at a higher
 * version, so it always fences an earlier one.
 */

/** Points per node on the ring. 128 keeps the largest share within about ±10% of the mean for a few nodes. */
export const RING_VNODES = 128;
/** Reverse deltas kept in a snapshot; older acquisitions report the oldest version still known (a safe upper bound, see epochOf). */
export const PLACEMENT_HISTORY = 256;

export const NODE_STATES = ['active', 'drained', 'dead'] as const;
/**
 * `active`: alive and on the ring. `drained`: alive, taken off the ring by
 * an operator (owns nothing until undrained). `dead`: declared dead by the
 * hub (missed heartbeats, or its process is gone); it must re-register.
 */
export const nodeState = z.enum(NODE_STATES);

/** A member port: 1–65535. */
const memberPort = z.number().int().min(1).max(65535);

/** How a node is reached: the proxy and gateways route with these, the hub probes them. */
export const PlacementNode = z.strictObject({
  id: memberId,
  state: nodeState,
  site: z.string().min(1),
  /** Host name or address other members reach the node on (RuntimeConfig `advertise`). */
  advertise: z.string().min(1),
  /** Listener name → port (`imap`, `pop3`, `lmtp`, `submission`, `management`...). */
  ports: z.record(z.string().min(1), memberPort),
  /** Bumped each time the hub declares the node dead: a session of an older incarnation is over. */
  incarnation: z.number().int().nonnegative(),
});
export type PlacementNode = z.infer<typeof PlacementNode>;

/**
 * What version `version` changed, written so as to undo it: the values the
 * rules had at `version - 1` for every key the change touched (`null`: the
 * key was absent), and the ring (active node ids) at `version - 1`.
 */
export const PlacementDelta = z.strictObject({
  version: version.min(1),
  ring: z.array(memberId),
  overrides: z.record(address, memberId.nullable()).default({}),
  pinned: z.record(domain, z.array(memberId).nullable()).default({}),
  domainAliases: z.record(domain, domain.nullable()).default({}),
});
export type PlacementDelta = z.infer<typeof PlacementDelta>;

export const PlacementSnapshot = z
  .strictObject({
    version,
    vnodes: z.number().int().min(1).max(4096).default(RING_VNODES),
    nodes: z.array(PlacementNode),
    /** Pinned domains and their node sets; a domain absent here is split over all active nodes. */
    pinned: z.record(domain, z.array(memberId).min(1)).default({}),
    /** Alias domain → target domain: `u@alias` is the mailbox `u@target`. */
    domainAliases: z.record(domain, domain).default({}),
    /** Per-user overrides (admin "move user"). */
    overrides: z.record(address, memberId).default({}),
    /** Reverse deltas, newest first: history[i].version === version - i. */
    history: z.array(PlacementDelta).max(PLACEMENT_HISTORY).default([]),
  })
  .superRefine((s, ctx) => {
    s.history.forEach((d, i) => {
      if (d.version !== s.version - i) {
        ctx.addIssue({ code: 'custom', path: ['history', i, 'version'], message: `must be ${s.version - i}: history is contiguous, newest first` });
      }
    });
    const ids = new Set<string>();
    s.nodes.forEach((n, i) => {
      if (ids.has(n.id)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'id'], message: `node ${n.id} is listed twice` });
      ids.add(n.id);
    });
  });
export type PlacementSnapshot = z.output<typeof PlacementSnapshot>;

/** The rules at one version, as far as owner() needs them. */
interface RuleView {
  ring: readonly string[];
  override(addr: string): string | undefined;
  pinnedSet(dom: string): readonly string[] | undefined;
  aliasTarget(dom: string): string | undefined;
}

function hash32(text: string): number {
  return createHash('md5').update(text).digest().readUInt32BE(0);
}

/** A consistent-hash ring (Karger et al. 1997) with `vnodes` points per node. */
class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: string[];

  constructor(nodes: readonly string[], vnodes: number) {
    const all: { h: number; id: string }[] = [];
    for (const id of nodes) for (let i = 0; i < vnodes; i++) all.push({ h: hash32(`${id}#${i}`), id });
    // Equal points (a 32-bit collision) are ordered by id, so every member builds the same ring.
    all.sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.points = Uint32Array.from(all.map((p) => p.h));
    this.owners = all.map((p) => p.id);
  }

  /** The node of the first point at or after the key's hash, wrapping around. */
  lookup(key: string): string | null {
    const n = this.points.length;
    if (n === 0) return null;
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo]!;
  }
}

/** Rings by node set; a handful of distinct sets exist at any time (all nodes, a few pinned sets, recent history). */
const RING_CACHE_MAX = 64;

/**
 * Compiled placement rules of one snapshot: owner and epoch of any address,
 * the same answer on the hub, the nodes, the gateways and the proxies.
 */
export class PlacementRules {
  readonly version: number;
  readonly snapshot: PlacementSnapshot;
  private readonly byId: Map<string, PlacementNode>;
  private readonly current: RuleView;
  private readonly rings = new Map<string, HashRing>();

  constructor(snapshot: PlacementSnapshot) {
    this.snapshot = snapshot;
    this.version = snapshot.version;
    this.byId = new Map(snapshot.nodes.map((n) => [n.id, n]));
    const ring = snapshot.nodes.filter((n) => n.state === 'active').map((n) => n.id).sort();
    this.current = {
      ring,
      override: (a) => snapshot.overrides[a],
      pinnedSet: (d) => snapshot.pinned[d],
      aliasTarget: (d) => snapshot.domainAliases[d],
    };
  }

  /** Active nodes (on the ring), sorted by id. */
  get ring(): readonly string[] {
    return this.current.ring;
  }

  node(id: string): PlacementNode | undefined {
    return this.byId.get(id);
  }

  /** The mailbox an address names: lower-cased, alias domain replaced by its target. */
  canonical(addr: string): string {
    return canonicalIn(this.current, addr);
  }

  /** The node that owns the mailbox now; null when no node is active. */
  ownerOf(addr: string): string | null {
    return this.ownerIn(this.current, canonicalIn(this.current, addr));
  }

  /**
   * The version at which the current owner acquired the mailbox (its epoch),
   * with the owner; null when no node is active. Walks the reverse deltas
   * back until the owner differs. If the history ends first, the oldest
   * version it reaches is returned: at least the true acquisition version
   * and above every earlier owner's epoch, so still a safe fencing token.
   */
  ownerWithEpoch(addr: string): { node: string; epoch: number } | null {
    const view = new OverlayView(this.current);
    const node = this.ownerIn(view, canonicalIn(view, addr));
    if (node === null) return null;
    let epoch = this.version;
    for (const delta of this.snapshot.history) {
      view.revert(delta);
      const before = this.ownerIn(view, canonicalIn(view, addr));
      if (before !== node) return { node, epoch: delta.version };
      epoch = delta.version - 1;
    }
    return { node, epoch: Math.max(epoch, 1) };
  }

  private ownerIn(view: RuleView, canon: string): string | null {
    if (view.ring.length === 0) return null;
    const o = view.override(canon);
    if (o !== undefined && view.ring.includes(o)) return o;
    const pins = view.pinnedSet(domainOf(canon));
    if (pins) {
      const live = view.ring.filter((id) => pins.includes(id));
      if (live.length > 0) return this.ringOf(live).lookup(canon);
    }
    return this.ringOf(view.ring).lookup(canon);
  }

  private ringOf(nodes: readonly string[]): HashRing {
    const key = nodes.join('\n');
    let ring = this.rings.get(key);
    if (!ring) {
      if (this.rings.size >= RING_CACHE_MAX) this.rings.delete(this.rings.keys().next().value as string);
      ring = new HashRing(nodes, this.snapshot.vnodes);
      this.rings.set(key, ring);
    }
    return ring;
  }
}

function canonicalIn(view: RuleView, addr: string): string {
  const a = addr.trim().toLowerCase();
  const dom = domainOf(a);
  const target = view.aliasTarget(dom);
  return target === undefined ? a : `${localPartOf(a)}@${target}`;
}

/** The rules at an earlier version: the current ones with reverse deltas laid over them. */
class OverlayView implements RuleView {
  ring: readonly string[];
  private readonly overrides = new Map<string, string | null>();
  private readonly pins = new Map<string, readonly string[] | null>();
  private readonly aliases = new Map<string, string | null>();

  constructor(private readonly base: RuleView) {
    this.ring = base.ring;
  }

  revert(d: PlacementDelta): void {
    this.ring = [...d.ring].sort();
    for (const [k, v] of Object.entries(d.overrides)) this.overrides.set(k, v);
    for (const [k, v] of Object.entries(d.pinned)) this.pins.set(k, v);
    for (const [k, v] of Object.entries(d.domainAliases)) this.aliases.set(k, v);
  }

  override(a: string): string | undefined {
    return this.overrides.has(a) ? (this.overrides.get(a) ?? undefined) : this.base.override(a);
  }

  pinnedSet(d: string): readonly string[] | undefined {
    return this.pins.has(d) ? (this.pins.get(d) ?? undefined) : this.base.pinnedSet(d);
  }

  aliasTarget(d: string): string | undefined {
    return this.aliases.has(d) ? (this.aliases.get(d) ?? undefined) : this.base.aliasTarget(d);
  }
}

/** The rules a snapshot would have with `change` applied, as a new version with its reverse delta recorded. */
export interface PlacementChange {
  /** Node entries to add or replace (state changes, new nodes, new ports). */
  nodes?: PlacementNode[];
  /** address → node, or null to remove the override. */
  overrides?: Record<string, string | null>;
  /** domain → node set, or null to split the domain again. */
  pinned?: Record<string, string[] | null>;
  /** alias domain → target, or null to remove the alias. */
  domainAliases?: Record<string, string | null>;
}

/**
 * Applies a change: version + 1, the reverse delta at the head of the
 * history (trimmed to PLACEMENT_HISTORY). Pure; the hub persists the result.
 */
export function applyPlacementChange(s: PlacementSnapshot, change: PlacementChange): PlacementSnapshot {
  const ringBefore = s.nodes.filter((n) => n.state === 'active').map((n) => n.id).sort();
  const nodes = new Map(s.nodes.map((n) => [n.id, n]));
  for (const n of change.nodes ?? []) nodes.set(n.id, n);
  const delta: PlacementDelta = { version: s.version + 1, ring: ringBefore, overrides: {}, pinned: {}, domainAliases: {} };
  const overrides = { ...s.overrides };
  for (const [k, v] of Object.entries(change.overrides ?? {})) {
    delta.overrides[k] = overrides[k] ?? null;
    if (v === null) delete overrides[k];
    else overrides[k] = v;
  }
  const pinned = { ...s.pinned };
  for (const [k, v] of Object.entries(change.pinned ?? {})) {
    delta.pinned[k] = pinned[k] ?? null;
    if (v === null) delete pinned[k];
    else pinned[k] = [...v].sort();
  }
  const domainAliases = { ...s.domainAliases };
  for (const [k, v] of Object.entries(change.domainAliases ?? {})) {
    delta.domainAliases[k] = domainAliases[k] ?? null;
    if (v === null) delete domainAliases[k];
    else domainAliases[k] = v;
  }
  return {
    version: s.version + 1,
    vnodes: s.vnodes,
    nodes: [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    pinned,
    domainAliases,
    overrides,
    history: [delta, ...s.history].slice(0, PLACEMENT_HISTORY),
  };
}

/** The empty placement every cluster starts from (version 0: no node, no owner). */
export function emptyPlacement(): PlacementSnapshot {
  return { version: 0, vnodes: RING_VNODES, nodes: [], pinned: {}, domainAliases: {}, overrides: {}, history: [] };
}
