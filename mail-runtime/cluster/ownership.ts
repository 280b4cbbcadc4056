import { PlacementRules, type PlacementSnapshot } from '../hub/protocol';

/**
 * What a node may serve, computed locally from the placement it received
 * (the hub is not on the data path). A node serves a mailbox only while:
 *
 * - it holds its lease (ClusterMember.holdsLease),
 * - the committed placement lists this node, at this node's incarnation,
 *   as active, and makes it the mailbox's owner,
 * - no pending proposal gives the mailbox to another node, and the mailbox
 *   is not being handed over right now,
 *
 * and it opens the mailbox with the epoch at which it acquired it
 * (PlacementRules.ownerWithEpoch), kept for as long as it stays the owner
 * without interruption.
 */
export type OwnershipVerdict =
  | { owned: true; epoch: number }
  /** `moving`: a handover is under way (retry shortly); `elsewhere`: another node owns it; `not-serving`: no lease or no placement for us. */
  | { owned: false; reason: 'moving' | 'elsewhere' | 'not-serving'; owner?: string };

export interface OwnershipOptions {
  memberId: string;
  /** The incarnation this process acts as, when known. */
  incarnation(): number | undefined;
  holdsLease(): boolean;
}

export class Ownership {
  private rules: PlacementRules | undefined;
  private proposal: { id: number; rules: PlacementRules } | undefined;
  /** canonical address → epoch it was opened with. */
  private readonly held = new Map<string, number>();
  /** Mailboxes being handed over: no new writes, no new opens. */
  private readonly releasing = new Set<string>();

  constructor(private readonly o: OwnershipOptions) {}

  get version(): number {
    return this.rules?.version ?? 0;
  }

  /** Canonical mailbox addresses currently held. */
  heldAddresses(): string[] {
    return [...this.held.keys()];
  }

  private mine(rules: PlacementRules): boolean {
    const me = rules.node(this.o.memberId);
    return me !== undefined && me.state === 'active' && me.incarnation === this.o.incarnation();
  }

  /** The verdict for an address now. */
  check(address: string): OwnershipVerdict {
    const rules = this.rules;
    if (!rules || !this.o.holdsLease() || !this.mine(rules)) return { owned: false, reason: 'not-serving' };
    const canon = rules.canonical(address);
    // A held mailbox keeps its epoch: only the owner is needed (no history walk on every write).
    const heldEpoch = this.held.get(canon);
    let owner: string | null;
    let epoch: number;
    if (heldEpoch !== undefined) {
      owner = rules.ownerOf(canon);
      epoch = heldEpoch;
    } else {
      const o = rules.ownerWithEpoch(canon);
      owner = o?.node ?? null;
      epoch = o?.epoch ?? 0;
    }
    if (owner === null) return { owned: false, reason: 'not-serving' };
    if (owner !== this.o.memberId) return { owned: false, reason: 'elsewhere', owner };
    if (this.releasing.has(canon)) return { owned: false, reason: 'moving' };
    const next = this.proposal?.rules.ownerOf(canon);
    if (next !== undefined && next !== this.o.memberId) return { owned: false, reason: 'moving', ...(next ? { owner: next } : {}) };
    return { owned: true, epoch };
  }

  /** Records that the mailbox was opened with `epoch` (it is kept while ownership lasts). */
  hold(address: string, epoch: number): void {
    const canon = this.rules?.canonical(address) ?? address.toLowerCase();
    if (!this.held.has(canon)) this.held.set(canon, epoch);
  }

  /**
   * After a durable write, before acknowledging it: the lease holds and the
   * mailbox is still held at `epoch`. True during a handover (writes already
   * in flight finish and are acknowledged; new ones are refused by canWrite).
   */
  stillHolds(address: string, epoch: number): boolean {
    const rules = this.rules;
    if (!rules || !this.o.holdsLease() || !this.mine(rules)) return false;
    const canon = rules.canonical(address);
    return this.held.get(canon) === epoch && rules.ownerOf(canon) === this.o.memberId;
  }

  /** May the store write to this mailbox now (checked before every write batch)? */
  canWrite(address: string): boolean {
    return this.check(address).owned;
  }

  /**
   * A committed placement: returns the held mailboxes this node no longer
   * owns (or owns at a newer epoch, after versions it missed), which the
   * caller fences.
   */
  commit(snapshot: PlacementSnapshot): string[] {
    const rules = new PlacementRules(snapshot);
    this.rules = rules;
    if (this.proposal && this.proposal.rules.version <= snapshot.version) this.proposal = undefined;
    const lost: string[] = [];
    const mine = this.mine(rules);
    for (const [addr, epoch] of this.held) {
      const o = mine ? rules.ownerWithEpoch(addr) : null;
      if (!o || o.node !== this.o.memberId || o.epoch > epoch) lost.push(addr);
    }
    for (const a of lost) this.held.delete(a);
    return lost;
  }

  /**
   * A proposal: the held mailboxes it gives to another node. They are marked
   * as moving (no new writes or opens) until the caller has released them;
   * then `released()`.
   */
  propose(id: number, snapshot: PlacementSnapshot): string[] {
    const rules = new PlacementRules(snapshot);
    this.proposal = { id, rules };
    const moving: string[] = [];
    for (const addr of this.held.keys()) if (rules.ownerOf(addr) !== this.o.memberId) moving.push(addr);
    for (const a of moving) this.releasing.add(a);
    return moving;
  }

  released(addresses: readonly string[]): void {
    for (const a of addresses) {
      this.held.delete(a);
      this.releasing.delete(a);
    }
  }

  /** Everything dropped (lease lapsed for good, or a new incarnation): returns what was held. */
  dropAll(): string[] {
    const all = [...this.held.keys()];
    this.held.clear();
    this.releasing.clear();
    this.proposal = undefined;
    return all;
  }
}
