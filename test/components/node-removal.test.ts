import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { MailCluster } from '../../components/mail-cluster';
import { installCapture, unwrapSecrets } from '../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../components/offline/mock-outputs';
import { platformInvokeResult, platformMockOutputs } from '../../components/offline/platform-mocks';
import { PLACEMENT_FACTS_FORMAT, type PlacementFacts } from '../../components/placement-facts';
import type { ClusterSpecInput } from '../../components/spec';
import { stackProgram } from '../../stacks/program';
import { check, compliantSpec, modify } from '../policies/helpers';

/**
 * Issue 12, the Pulumi side: a `pulumi up` that changes `nodes.count`.
 * With the placement facts `mailfleet placement export` wrote (stack config
 * `mailfleet:placement`), MailCluster refuses to remove a node that still
 * owns mailboxes, naming it and the drain to run; a drained node may go;
 * added nodes are rendered to register with every hub, which puts them on
 * the ring. Under mocks, then through the policy pack as `npm run preview`
 * runs it.
 */

const run = installCapture({ project: 'mailfleet', stack: 'node-removal', outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });

/** The production Kubernetes cluster every policy accepts, with `nodes` members. */
const withNodes = (nodes: number): ClusterSpecInput => modify(compliantSpec('kubernetes'), (s) => (s.nodes = { count: nodes }));
const NAME = 'mail-k8s';

function facts(nodes: [string, 'active' | 'drained' | 'dead', number][], exportedAt = new Date().toISOString()): PlacementFacts {
  return { format: PLACEMENT_FACTS_FORMAT, exportedAt, placementVersion: 42, nodes: nodes.map(([id, state, mailboxes]) => ({ id, state, mailboxes })), unplaced: 0 };
}

describe('removing and adding nodes with placement facts', () => {
  it('refuses to remove a node that still owns mailboxes, naming it and the drain command, before creating anything', () => {
    const owning = facts([
      [`${NAME}-node-0`, 'active', 170],
      [`${NAME}-node-1`, 'active', 160],
      [`${NAME}-node-2`, 'active', 170],
    ]);
    expect(() => new MailCluster(NAME, { spec: withNodes(2), placement: owning })).toThrow(
      /removes a node that still owns mailboxes: mail-k8s-node-2 \(170 mailboxes\).*Drain first: `mailfleet placement drain mail-k8s-node-2`/s,
    );
    // Two removed at once, both named.
    expect(() => new MailCluster(NAME, { spec: withNodes(1), placement: owning })).toThrow(/mail-k8s-node-1 \(160 mailboxes\), mail-k8s-node-2 \(170 mailboxes\)/);
  });

  it('refuses facts that are not what `mailfleet placement export` writes, naming the field', () => {
    expect(() => new MailCluster(NAME, { spec: withNodes(2), placement: { ...facts([]), format: 'something-else' } })).toThrow(/placement\.format: must be "mailfleet-placement\/1"/);
    expect(() => new MailCluster(NAME, { spec: withNodes(2), placement: { ...facts([[`${NAME}-node-0`, 'active', 1]]), nodes: [{ id: `${NAME}-node-0`, state: 'active', mailboxes: -1 }] } })).toThrow(
      /placement\.nodes\.0\.mailboxes/,
    );
  });

  it('lets a drained node (0 mailboxes) go: the cluster is built without it, records the change, and the policy pack passes it', async () => {
    let cluster!: MailCluster;
    const drained = facts([
      [`${NAME}-node-0`, 'active', 250],
      [`${NAME}-node-1`, 'active', 250],
      [`${NAME}-node-2`, 'drained', 0],
    ]);
    const cap = await run(() => {
      cluster = new MailCluster(NAME, { spec: withNodes(2), placement: drained });
    });
    expect(cluster.nodeChanges).toEqual({ removed: [{ id: `${NAME}-node-2`, mailboxes: 0 }], joining: [] });
    const root = cap.resources.find((r) => r.type === MailCluster.type)!;
    expect(root.outputs.nodeChanges).toEqual(cluster.nodeChanges);
    const nodeSets = cap.resources.filter((r) => r.type === 'kubernetes:apps/v1:StatefulSet' && r.name.startsWith(`${NAME}-node`));
    expect(nodeSets).toHaveLength(1);
    expect((nodeSets[0]!.inputs as { spec: { replicas: number } }).spec.replicas).toBe(2);
    // The same capture through the policy pack, as `npm run preview` runs it: no mandatory violation.
    const results = await check(cap);
    expect(results.filter((r) => r.enforcementLevel === 'mandatory')).toEqual([]);
  });

  it('adds nodes: each new one is rendered to register with every hub, with the cluster token, so the hub puts it on the ring', async () => {
    let cluster!: MailCluster;
    const two = facts([
      [`${NAME}-node-0`, 'active', 250],
      [`${NAME}-node-1`, 'active', 250],
    ]);
    const cap = await run(() => {
      cluster = new MailCluster(NAME, { spec: withNodes(4), placement: two });
    });
    expect(cluster.nodeChanges).toEqual({ removed: [], joining: [`${NAME}-node-2`, `${NAME}-node-3`] });
    // The nodes' ConfigMap holds one RuntimeConfig per member (`<memberId>.json`): the new ones are nodes that know every hub and the cluster token.
    const map = cap.resources.find((r) => r.type === 'kubernetes:core/v1:ConfigMap' && `${NAME}-node-3.json` in ((unwrapSecrets(r.inputs) as { data?: object }).data ?? {}))!;
    expect(map).toBeDefined();
    const data = (unwrapSecrets(map.inputs) as { data: Record<string, string> }).data;
    expect(Object.keys(data).sort()).toEqual([0, 1, 2, 3].map((i) => `${NAME}-node-${i}.json`));
    for (const id of [`${NAME}-node-2`, `${NAME}-node-3`]) {
      const cfg = JSON.parse(data[`${id}.json`]!) as { role: string; memberId: string; hubUrls: string[]; clusterTokenFile?: string };
      expect(cfg).toMatchObject({ role: 'node', memberId: id });
      expect(cfg.hubUrls.some((u) => u.includes(`${NAME}-hub-0`))).toBe(true);
      expect(cfg.hubUrls.some((u) => u.includes(`${NAME}-hub-1`))).toBe(true);
      expect(cfg.clusterTokenFile).toEqual(expect.any(String));
    }
    const results = await check(cap);
    expect(results.filter((r) => r.enforcementLevel === 'mandatory')).toEqual([]);
  });

  it('the stack program reads the facts from stack config mailfleet:placement, as `pulumi config set mailfleet:placement "$(mailfleet placement export)"` stores them', () => {
    const owning = facts([
      [`${NAME}-node-0`, 'active', 1],
      [`${NAME}-node-1`, 'active', 1],
      [`${NAME}-node-2`, 'active', 1],
    ]);
    // Pulumi hands config values to the program as text; the export is one JSON line.
    pulumi.runtime.setAllConfig({ 'mailfleet:cluster': JSON.stringify(withNodes(2)), 'mailfleet:placement': JSON.stringify(owning) });
    try {
      expect(() => stackProgram()).toThrow(/mail-k8s-node-2 \(1 mailbox\).*`mailfleet placement drain mail-k8s-node-2`/s);
      pulumi.runtime.setAllConfig({ 'mailfleet:cluster': JSON.stringify(withNodes(2)), 'mailfleet:placement': '{not json' });
      expect(() => stackProgram()).toThrow(/config mailfleet:placement is not valid YAML\/JSON/);
    } finally {
      pulumi.runtime.setAllConfig({});
    }
  });

  it('without placement facts it checks nothing (a preview cannot reach the hub) and records no change', async () => {
    let cluster!: MailCluster;
    await run(() => {
      cluster = new MailCluster(NAME, { spec: withNodes(2) });
    });
    expect(cluster.nodeChanges).toBeUndefined();
  });
});
