import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyPlacementChange,
  emptyPlacement,
  PlacementRules,
  PlacementSnapshot,
  type PlacementNode,
  type PlacementSnapshot as Snapshot,
} from '../../mail-runtime/hub/protocol';

const node = (id: string, state: PlacementNode['state'] = 'active'): PlacementNode => ({
  id,
  state,
  site: 'main',
  advertise: '127.0.0.1',
  ports: { imap: 1143 },
  incarnation: 1,
});

const users = Array.from({ length: 3000 }, (_, i) => `user${i}@example.test`);

function owners(s: Snapshot): Map<string, string | null> {
  const r = new PlacementRules(s);
  return new Map(users.map((u) => [u, r.ownerOf(u)]));
}

describe('placement rules: owner(address)', () => {
  it('no active node: no owner', () => {
    const s = applyPlacementChange(emptyPlacement(), { nodes: [node('n1', 'dead')] });
    expect(new PlacementRules(s).ownerOf('a@example.test')).toBeNull();
    expect(new PlacementRules(s).ownerWithEpoch('a@example.test')).toBeNull();
  });

  it('splits a domain over all active nodes, each with a fair share', () => {
    const s = applyPlacementChange(emptyPlacement(), { nodes: [node('n1'), node('n2'), node('n3')] });
    const counts = new Map<string, number>();
    for (const o of owners(s).values()) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['n1', 'n2', 'n3']);
    for (const c of counts.values()) expect(c).toBeGreaterThan(users.length / 3 / 2);
  });

  it('adding a node moves only the mailboxes that hash to it', () => {
    const s1 = applyPlacementChange(emptyPlacement(), { nodes: [node('n1'), node('n2')] });
    const s2 = applyPlacementChange(s1, { nodes: [node('n3')] });
    const before = owners(s1);
    const after = owners(s2);
    let moved = 0;
    for (const u of users) {
      if (before.get(u) !== after.get(u)) {
        moved++;
        expect(after.get(u)).toBe('n3');
      }
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('a dead node: only its mailboxes move, the others keep their owner', () => {
    const s1 = applyPlacementChange(emptyPlacement(), { nodes: [node('n1'), node('n2'), node('n3')] });
    const s2 = applyPlacementChange(s1, { nodes: [node('n2', 'dead')] });
    const before = owners(s1);
    const after = owners(s2);
    for (const u of users) {
      if (before.get(u) !== 'n2') expect(after.get(u)).toBe(before.get(u));
      else expect(['n1', 'n3']).toContain(after.get(u));
    }
  });

  it('pinned domains stay on their node set; overrides win while their node is active', () => {
    let s = applyPlacementChange(emptyPlacement(), { nodes: [node('n1'), node('n2'), node('n3')] });
    s = applyPlacementChange(s, { pinned: { 'pinned.test': ['n2'] }, overrides: { 'user7@example.test': 'n3' } });
    const r = new PlacementRules(s);
    for (let i = 0; i < 200; i++) expect(r.ownerOf(`u${i}@pinned.test`)).toBe('n2');
    expect(r.ownerOf('USER7@Example.test')).toBe('n3');
    // The pinned node dies: the domain falls back to the whole ring rather than to nobody.
    const s2 = applyPlacementChange(s, { nodes: [node('n2', 'dead'), node('n3', 'dead')] });
    const r2 = new PlacementRules(s2);
    expect(r2.ownerOf('u1@pinned.test')).toBe('n1');
    expect(r2.ownerOf('user7@example.test')).toBe('n1');
  });

  it('domain aliases route to the target domain mailbox', () => {
    let s = applyPlacementChange(emptyPlacement(), { nodes: [node('n1'), node('n2')] });
    s = applyPlacementChange(s, { domainAliases: { 'alias.test': 'example.test' } });
    const r = new PlacementRules(s);
    expect(r.canonical('Bob@Alias.test')).toBe('bob@example.test');
    for (const u of users.slice(0, 100)) expect(r.ownerOf(u.replace('example.test', 'alias.test'))).toBe(r.ownerOf(u));
  });
});

describe('placement rules: epochs (the fencing token)', () => {
  it('the epoch is the version at which the current owner acquired the mailbox', () => {
    const s1 = applyPlacementChange(emptyPlacement(), { nodes: [node('n1')] }); // v1: n1 owns everything
    const s2 = applyPlacementChange(s1, { nodes: [node('n2')] }); // v2: n2 takes its share
    const s3 = applyPlacementChange(s2, { overrides: { 'other@example.test': 'n1' } }); // v3: unrelated for most
    const r = new PlacementRules(s3);
    for (const u of users.slice(0, 300)) {
      const o = r.ownerWithEpoch(u)!;
      expect(o.epoch).toBe(o.node === 'n1' ? 1 : 2);
    }
  });

  it('an owner that loses a mailbox and gets it back opens at a higher epoch than the one in between', () => {
    let s = applyPlacementChange(emptyPlacement(), { nodes: [node('n1'), node('n2')] }); // v1
    const u = users.find((x) => new PlacementRules(s).ownerOf(x) === 'n1')!;
    s = applyPlacementChange(s, { nodes: [node('n1', 'dead')] }); // v2: to n2
    expect(new PlacementRules(s).ownerWithEpoch(u)).toEqual({ node: 'n2', epoch: 2 });
    s = applyPlacementChange(s, { nodes: [{ ...node('n1'), incarnation: 2 }] }); // v3: back to n1
    expect(new PlacementRules(s).ownerWithEpoch(u)).toEqual({ node: 'n1', epoch: 3 });
  });

  it('property: along any change sequence, each new owner acquires at a version above every earlier owner', () => {
    const ids = ['n1', 'n2', 'n3', 'n4'];
    const step = fc.oneof(
      fc.record({ kind: fc.constant('state' as const), id: fc.constantFrom(...ids), state: fc.constantFrom('active' as const, 'dead' as const, 'drained' as const) }),
      fc.record({ kind: fc.constant('override' as const), user: fc.constantFrom(...users.slice(0, 5)), id: fc.option(fc.constantFrom(...ids), { nil: null }) }),
      fc.record({ kind: fc.constant('pin' as const), ids: fc.option(fc.subarray(ids, { minLength: 1 }), { nil: null }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        let s = applyPlacementChange(emptyPlacement(), { nodes: ids.map((i) => node(i)) });
        const sample = users.slice(0, 20);
        // Owner of each sample mailbox at every version so far (null: nobody).
        const ownersAt: Map<string, string | null>[] = [];
        const check = () => {
          const r = new PlacementRules(s);
          ownersAt[s.version] = new Map(sample.map((u) => [u, r.ownerOf(u)]));
          for (const u of sample) {
            const o = r.ownerWithEpoch(u);
            if (!o) continue;
            // Exactly the acquisition version: the owner held it at every version since the epoch,
            // and some other owner (or nobody) held it the version before.
            for (let v = o.epoch; v <= s.version; v++) if (ownersAt[v]) expect(ownersAt[v]!.get(u)).toBe(o.node);
            const before = ownersAt[o.epoch - 1];
            if (before) expect(before.get(u)).not.toBe(o.node);
          }
        };
        check();
        for (const st of steps) {
          if (st.kind === 'state') s = applyPlacementChange(s, { nodes: [node(st.id, st.state)] });
          else if (st.kind === 'override') s = applyPlacementChange(s, { overrides: { [st.user]: st.id } });
          else s = applyPlacementChange(s, { pinned: { 'example.test': st.ids } });
          check();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a truncated history still yields a safe epoch (at least the true acquisition version)', () => {
    let s = applyPlacementChange(emptyPlacement(), { nodes: [node('n1')] });
    for (let i = 0; i < 300; i++) s = applyPlacementChange(s, { overrides: { [`x${i}@other.test`]: 'n1' } });
    const o = new PlacementRules(s).ownerWithEpoch('user1@example.test')!;
    expect(o.node).toBe('n1');
    expect(o.epoch).toBe(s.version - s.history.length);
    expect(o.epoch).toBeGreaterThanOrEqual(1);
  });

  it('the schema rejects a history with a gap, naming the field', () => {
    const s = applyPlacementChange(applyPlacementChange(emptyPlacement(), { nodes: [node('n1')] }), { nodes: [node('n2')] });
    const broken = { ...s, history: [s.history[1]] };
    const res = PlacementSnapshot.safeParse(broken);
    expect(res.success).toBe(false);
    expect(res.error!.issues[0]!.path).toEqual(['history', 0, 'version']);
  });
});
