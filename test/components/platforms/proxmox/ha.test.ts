import { beforeAll, describe, expect, it } from 'vitest';
import { installCapture, unwrapSecrets, type Capture, type CapturedResource } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
// MailCluster creates nothing on import, so a static import after installCapture's module is safe.
import { MailCluster } from '../../../../components/mail-cluster';
import { proxmoxMockOutputs } from '../../../../components/platforms/proxmox/mocks';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { PROXMOX_CREDENTIALS, proxmoxSpec } from './fixtures';

/**
 * Proxmox HA on both major versions (platform.proxmoxVersion): an HA group on
 * Proxmox VE 8; on 9, which replaced groups, per-role HA rules
 * (@muhlba91/pulumi-proxmoxve `Harule`) that the real HA manager accepts.
 */

const run = installCapture({ stack: 'ha-proxmox', outputsFor: composeMockOutputs(commonMockOutputs, proxmoxMockOutputs) });

const T = {
  vm: 'proxmoxve:index/vmLegacy:VmLegacy',
  group: 'proxmoxve:index/hagroup:Hagroup',
  ha: 'proxmoxve:index/haresource:Haresource',
  rule: 'proxmoxve:index/harule:Harule',
} as const;
const ROLES = ['hub', 'node', 'gateway', 'proxy', 'lb'] as const;
const NODES = ['pve1', 'pve2', 'pve3'];

const withVersion = (version: 8 | 9 | undefined, nodeCount = 3): ClusterSpecInput => {
  const s = proxmoxSpec(nodeCount);
  return { ...s, platform: { ...(s.platform as object), ...(version === undefined ? {} : { proxmoxVersion: version }) } } as ClusterSpecInput;
};

const ofType = (c: Capture, t: string) => c.resources.filter((r) => r.type === t);
const inputs = (r: CapturedResource) => unwrapSecrets(r.inputs) as Record<string, any>;
const vmIdsOf = (c: Capture, role: string) =>
  ofType(c, T.vm)
    .filter((v) => v.name.startsWith(`mail-${role}-`))
    .map((v) => `vm:${inputs(v).vmId}`);

interface Rule {
  rule: string;
  type: 'node-affinity' | 'resource-affinity';
  affinity?: 'positive' | 'negative';
  resources: string[];
  nodes?: Record<string, number>;
  strict?: boolean;
  disable?: boolean;
}

/**
 * The checks Proxmox VE 9's HA manager runs on its rules before using them
 * (pve-ha-manager src/PVE/HA/Rules.pm, Rules/NodeAffinity.pm,
 * Rules/ResourceAffinity.pm); a rule that fails one is ignored, silently for
 * the deployment. Returns one line per problem.
 */
function pveRuleProblems(rules: readonly Rule[], clusterNodes: readonly string[]): string[] {
  const problems: string[] = [];
  const nodeRules = rules.filter((r) => r.type === 'node-affinity');
  const negative = rules.filter((r) => r.type === 'resource-affinity' && r.affinity === 'negative');
  const id = /^[A-Za-z][A-Za-z0-9_-]+$/; // pve-configid
  for (const r of rules) if (!id.test(r.rule)) problems.push(`${r.rule}: not a pve-configid`);
  // check_single_resource_reference: a resource in at most one node affinity rule.
  const seen = new Map<string, string>();
  for (const r of nodeRules) {
    for (const sid of r.resources) {
      if (seen.has(sid)) problems.push(`${sid} is in node affinity rules ${seen.get(sid)} and ${r.rule}`);
      seen.set(sid, r.rule);
    }
  }
  for (const r of rules.filter((x) => x.type === 'resource-affinity')) {
    // check_resource_affinity_resources_count
    if (r.resources.length < 2) problems.push(`${r.rule}: fewer than two resources`);
    // check_single_priority_node_affinity_in_resource_affinity_rules
    for (const n of nodeRules.filter((n) => n.resources.some((s) => r.resources.includes(s)))) {
      if (new Set(Object.values(n.nodes ?? {})).size > 1) problems.push(`${n.rule}: multiple priorities next to resource affinity rule ${r.rule}`);
    }
  }
  for (const r of negative) {
    // check_negative_resource_affinity_resources_count
    if (r.resources.length > clusterNodes.length) problems.push(`${r.rule}: more resources than cluster nodes`);
    // check_negative_resource_affinity_node_affinity_consistency
    const paired = nodeRules.filter((n) => n.resources.some((s) => r.resources.includes(s)));
    const located = new Set(paired.flatMap((n) => n.resources.filter((s) => r.resources.includes(s))));
    const allowed = new Set(paired.flatMap((n) => Object.keys(n.nodes ?? {})));
    if (allowed.size < located.size) problems.push(`${r.rule}: ${located.size} resources restricted to ${allowed.size} nodes`);
  }
  return problems;
}

const rulesOf = (c: Capture) => ofType(c, T.rule).map((r) => inputs(r) as Rule);

let v8: Capture;
let v9: Capture;
let v9five: Capture;

beforeAll(async () => {
  v8 = await run(() => new MailCluster('mail', { spec: withVersion(undefined), credentials: PROXMOX_CREDENTIALS }));
  v9 = await run(() => new MailCluster('mail', { spec: withVersion(9), credentials: PROXMOX_CREDENTIALS }));
  v9five = await run(() => new MailCluster('mail', { spec: withVersion(9, 5), credentials: PROXMOX_CREDENTIALS }));
});

describe('platform.proxmoxVersion', () => {
  it('defaults to 8 (stacks deployed before the field keep their HA group) and accepts only 8 or 9', () => {
    expect((parseClusterSpec(withVersion(undefined)).platform as { proxmoxVersion: number }).proxmoxVersion).toBe(8);
    expect(() => parseClusterSpec(withVersion(7 as 8))).toThrow(/platform\.proxmoxVersion: must be 8 or 9, the Proxmox VE major version \(got 7\)/);
  });
});

describe('Proxmox VE 8: one HA group', () => {
  it('creates the restricted group over platform.nodes and no HA rule', () => {
    expect(v8.duplicates).toEqual([]);
    expect(ofType(v8, T.rule)).toEqual([]);
    const groups = ofType(v8, T.group);
    expect(groups).toHaveLength(1);
    expect(inputs(groups[0]!)).toMatchObject({ group: 'mailfleet-mail-px', nodes: { pve1: 1, pve2: 1, pve3: 1 }, restricted: true, noFailback: true });
  });

  it('makes every VM a started HA resource in the group', () => {
    const vms = ofType(v8, T.vm);
    const ha = ofType(v8, T.ha);
    expect(ha).toHaveLength(vms.length);
    for (const h of ha) {
      expect(inputs(h)).toMatchObject({ group: 'mailfleet-mail-px', state: 'started' });
      expect(inputs(h).failback).toBeUndefined();
    }
    expect(new Set(ha.map((h) => inputs(h).resourceId))).toEqual(new Set(vms.map((v) => `vm:${inputs(v).vmId}`)));
  });
});

describe('Proxmox VE 9: HA rules instead of the group', () => {
  it('creates no HA group; every VM is a started HA resource without a group and without failback', () => {
    expect(v9.duplicates).toEqual([]);
    expect(ofType(v9, T.group)).toEqual([]);
    const vms = ofType(v9, T.vm);
    const ha = ofType(v9, T.ha);
    expect(ha).toHaveLength(vms.length);
    for (const h of ha) {
      expect(inputs(h).group).toBeUndefined();
      expect(inputs(h)).toMatchObject({ state: 'started', failback: false });
    }
  });

  it('per role: a strict node-affinity rule over platform.nodes holding all its VMs', () => {
    for (const role of ROLES) {
      const rule = ofType(v9, T.rule).find((r) => r.name === `mail-${role}-ha-nodes`);
      expect(rule, role).toBeDefined();
      expect(inputs(rule!)).toMatchObject({ rule: `mailfleet-mail-px-${role}-nodes`, type: 'node-affinity', strict: true, nodes: { pve1: 1, pve2: 1, pve3: 1 } });
      expect([...inputs(rule!).resources].sort()).toEqual(vmIdsOf(v9, role).sort());
    }
    // Every VM of the cluster is confined to the listed nodes, by exactly one rule.
    const covered = rulesOf(v9).filter((r) => r.type === 'node-affinity').flatMap((r) => r.resources);
    expect(covered.sort()).toEqual(ofType(v9, T.vm).map((v) => `vm:${inputs(v).vmId}`).sort());
  });

  it('per role: a negative resource-affinity rule keeps its members on different hosts', () => {
    for (const role of ROLES) {
      const apart = rulesOf(v9).filter((r) => r.type === 'resource-affinity' && r.rule.startsWith(`mailfleet-mail-px-${role}-apart-`));
      expect(apart.map((r) => r.rule), role).toEqual([`mailfleet-mail-px-${role}-apart-0`]);
      expect(apart[0]).toMatchObject({ affinity: 'negative' });
      expect([...apart[0]!.resources].sort()).toEqual(vmIdsOf(v9, role).sort());
    }
  });

  it('every rule waits for the HA resources it names (Proxmox requires them to exist)', () => {
    const haUrnOf = new Map(ofType(v9, T.ha).map((h) => [inputs(h).resourceId as string, h.urn]));
    for (const r of ofType(v9, T.rule)) {
      for (const sid of inputs(r).resources as string[]) expect(r.options.dependsOn, `${r.name} → ${sid}`).toContain(haUrnOf.get(sid));
      expect(r.options.provider).toMatch(/pulumi:providers:proxmoxve::mail-proxmox::/);
    }
  });

  it('passes the HA manager rule checks; the checker finds what the manager would ignore', () => {
    expect(pveRuleProblems(rulesOf(v9), NODES)).toEqual([]);
    expect(pveRuleProblems(rulesOf(v9five), NODES)).toEqual([]);
    // The checker can fail: one VM in two node-affinity rules, a 4-member negative rule on 3 nodes, mixed priorities.
    const rules = rulesOf(v9);
    const hubNodes = rules.find((r) => r.rule.endsWith('-hub-nodes'))!;
    const broken: Rule[] = [
      ...rules,
      { ...hubNodes, rule: 'extra-nodes', nodes: { pve1: 2, pve2: 1 } },
      { rule: 'too-many', type: 'resource-affinity', affinity: 'negative', resources: vmIdsOf(v9five, 'node').slice(0, 4) },
    ];
    const problems = pveRuleProblems(broken, NODES).join('\n');
    expect(problems).toContain('is in node affinity rules');
    expect(problems).toContain('too-many: more resources than cluster nodes');
    expect(problems).toContain('extra-nodes: multiple priorities');
  });

  it('more members than hosts: chunks of platform.nodes.length, each on distinct hosts; a lone member needs no rule', () => {
    const byName = new Map(ofType(v9five, T.vm).map((v) => [`vm:${inputs(v).vmId}`, inputs(v).nodeName as string]));
    const apart = rulesOf(v9five)
      .filter((r) => r.rule.startsWith('mailfleet-mail-px-node-apart-'))
      .sort((a, b) => a.rule.localeCompare(b.rule));
    expect(apart.map((r) => r.resources)).toEqual([
      ['vm:4050', 'vm:4051', 'vm:4052'],
      ['vm:4053', 'vm:4054'],
    ]);
    for (const r of apart) expect(new Set(r.resources.map((s) => byName.get(s))).size, r.rule).toBe(r.resources.length);
  });

  it('scaling nodes 3 → 5 keeps every rule id and adds a chunk rule', () => {
    const before = new Set(rulesOf(v9).map((r) => r.rule));
    const after = new Set(rulesOf(v9five).map((r) => r.rule));
    expect([...before].filter((r) => !after.has(r))).toEqual([]);
    expect([...after].filter((r) => !before.has(r))).toEqual(['mailfleet-mail-px-node-apart-1']);
    const urns = new Set(v9five.resources.map((r) => r.urn));
    expect(v9.resources.map((r) => r.urn).filter((u) => !urns.has(u))).toEqual([]);
  });
});
