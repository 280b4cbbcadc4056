import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { MailCluster } from '../../components/mail-cluster';
import { FailoverSite } from '../../components/failover-site';
import { Gateway, Hub, LoadBalancer, MailNode, Proxy, SharedStorage } from '../../components/roles';
import { PolicyConfigError, effectiveLevel, loadPolicyConfig, runPolicyPack, validatePolicyConfig } from '../../cli/preview/policy-gate';
import { parseClusterSpec } from '../../components/spec';
import { policies } from '../../policies/policies';
import { COMPONENT } from '../../policies/lib/tokens';
import { compliantSpec, modify, resource, violated } from './helpers';

const root = join(__dirname, '..', '..');

/** A MailCluster component as the stack policies see it: only its registered spec (no platform resources). */
function clusterOnly(change: (s: Record<string, any>) => void = () => {}) {
  const spec = JSON.parse(JSON.stringify(parseClusterSpec(modify(compliantSpec('proxmox'), change))));
  return { resources: [resource({ type: COMPONENT.mailCluster, name: spec.name, props: { spec } })] };
}

describe('the mailfleet policy pack', () => {
  it('has the 12 policies of issue 4, verified-runtime-package (issue 10) and inbound-antivirus (issue 11), each named, described, with a level and remediation', () => {
    expect(policies.map((p) => p.name)).toEqual([
      'ha-minimums',
      'failure-domains',
      'shared-storage',
      'failover-pairs',
      'tls-everywhere',
      'no-open-relay',
      'admin-api-private',
      'secrets-stay-secret',
      'resource-floors',
      'pinned-runtime-image',
      'storage-capacity',
      'storage-backups',
      'verified-runtime-package',
      'inbound-antivirus',
    ]);
    for (const p of policies) {
      expect(p.name).toMatch(/^[a-z0-9-]+$/);
      expect(p.description.length).toBeGreaterThan(40);
      expect(p.remediationSteps?.length ?? 0).toBeGreaterThan(20);
      expect(typeof p.validateStack).toBe('function');
      // CrossGuard rejects a schema that declares enforcementLevel itself.
      expect(Object.keys(p.configSchema?.properties ?? {})).not.toContain('enforcementLevel');
    }
    const levels = Object.fromEntries(policies.map((p) => [p.name, p.enforcementLevel]));
    expect(levels['storage-capacity']).toBe('advisory');
    expect(levels['storage-backups']).toBe('advisory');
    expect(levels['verified-runtime-package']).toBe('mandatory');
    expect(levels['inbound-antivirus']).toBe('advisory');
    expect(Object.values(levels).filter((l) => l === 'mandatory')).toHaveLength(11);
  });

  it('uses the component type tokens the classes register', () => {
    expect(COMPONENT.mailCluster).toBe(MailCluster.type);
    expect(COMPONENT.hub).toBe(Hub.type);
    expect(COMPONENT.node).toBe(MailNode.type);
    expect(COMPONENT.gateway).toBe(Gateway.type);
    expect(COMPONENT.proxy).toBe(Proxy.type);
    expect(COMPONENT.sharedStorage).toBe(SharedStorage.type);
    expect(COMPONENT.loadBalancer).toBe(LoadBalancer.type);
    expect(COMPONENT.failoverSite).toBe(FailoverSite.type);
  });

  it('policies/index.ts is the only file that creates a PolicyPack; policies import no component classes', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
    const policyFiles = files(join(root, 'policies'));
    const packCallers = policyFiles.filter((f) => /new\s+PolicyPack\s*\(/.test(readFileSync(f, 'utf8')));
    expect(packCallers.map((f) => f.slice(root.length + 1))).toEqual(['policies/index.ts']);
    for (const f of policyFiles) {
      const imports = [...readFileSync(f, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const i of imports.filter((x) => x.includes('components/'))) expect(i, `${f} imports ${i}`).toMatch(/components\/spec$/);
      expect(imports.filter((i) => i === '@pulumi/pulumi'), f).toEqual([]);
    }
  });

  it('PulumiPolicy.yaml declares a nodejs pack (its entry is the folder: index.ts here, index.js in the tarball)', () => {
    const doc = YAML.parse(readFileSync(join(root, 'policies', 'PulumiPolicy.yaml'), 'utf8'));
    expect(doc.runtime).toBe('nodejs');
    expect(doc.main).toBeUndefined();
    expect(doc.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(doc.description.length).toBeGreaterThan(20);
    // Started the way the CLI starts it: test/policies/analyzer.test.ts.
  });
});

describe('per-stack policy configuration (Pulumi policy config file format)', () => {
  const base = clusterOnly((s) => (s.nodes.count = 1));

  it('reports a mandatory violation by default', async () => {
    const run = await runPolicyPack(base);
    expect(violated(run.results)).toEqual(['ha-minimums']);
    expect(run.results.every((r) => r.enforcementLevel === 'mandatory')).toBe(true);
    expect(run.evaluated).toHaveLength(14);
  });

  it('"advisory" downgrades a policy, "disabled" turns it off, "all" sets every level', async () => {
    const advisory = await runPolicyPack(base, { 'ha-minimums': 'advisory' });
    expect(advisory.results.map((r) => [r.policyName, r.enforcementLevel])).toEqual([['ha-minimums', 'advisory']]);
    const disabled = await runPolicyPack(base, { 'ha-minimums': { enforcementLevel: 'disabled' } });
    expect(disabled.results).toEqual([]);
    expect(disabled.disabled).toEqual(['ha-minimums']);
    const all = await runPolicyPack(clusterOnly((s) => delete s.storage.backup), { all: 'mandatory' });
    expect(all.results.map((r) => [r.policyName, r.enforcementLevel])).toEqual([['storage-backups', 'mandatory']]);
    expect(effectiveLevel(policies[0]!, { all: 'advisory', 'ha-minimums': 'mandatory' })).toBe('mandatory');
  });

  it('knobs change what a policy accepts (ha minimums, environments, capacity headroom, VM floors)', async () => {
    expect((await runPolicyPack(base, { 'ha-minimums': { minimums: { nodes: 1 } } })).results).toEqual([]);
    expect((await runPolicyPack(base, { 'ha-minimums': { environments: ['staging'] } })).results).toEqual([]);
    const staging = clusterOnly((s) => {
      s.nodes.count = 1;
      s.environment = 'staging';
    });
    expect((await runPolicyPack(staging)).results).toEqual([]);
    expect(violated((await runPolicyPack(staging, { 'ha-minimums': { environments: ['production', 'staging'] } })).results)).toEqual(['ha-minimums']);

    // 500 users × 2 GiB = 1000 GiB; 2000 GiB passes 20% headroom but not 150%.
    const headroom = await runPolicyPack(clusterOnly(), { 'storage-capacity': { headroomPercent: 150 } });
    expect(headroom.results.map((r) => r.policyName)).toEqual(['storage-capacity']);
    expect(headroom.results[0]!.message).toContain('2500 GiB');

    const floors = await runPolicyPack(clusterOnly(), { 'resource-floors': { vmMinimums: { node: { cpu: 8, memoryMiB: 16384 } } } });
    expect(violated(floors.results)).toEqual(['resource-floors']);
    expect(floors.results[0]!.message).toContain('node floor of 8 vCPU / 16384 MiB');
  });

  it('rejects unknown policies, unknown settings, wrong types and bad levels', () => {
    expect(() => validatePolicyConfig({ 'ha-minimum': 'advisory' })).toThrow(/ha-minimum: no such policy/);
    expect(() => validatePolicyConfig({ 'ha-minimums': { minimum: 3 } })).toThrow(/unknown setting/);
    expect(() => validatePolicyConfig({ 'storage-capacity': { headroomPercent: 'lots' } })).toThrow(/must be number/);
    expect(() => validatePolicyConfig({ 'ha-minimums': 'sometimes' })).toThrow(PolicyConfigError);
    expect(() => validatePolicyConfig({ 'shared-storage': { knob: 1 } })).toThrow(/this policy has none/);
    expect(() => loadPolicyConfig(join(root, 'does-not-exist.json'))).toThrow(/no such file/);
  });

  it('messages say what to change, without repeating the policy description', async () => {
    const results = (await runPolicyPack(clusterOnly((s) => (s.gateway = { relayNetworks: ['0.0.0.0/0'] })))).results;
    expect(results[0]!.message).toMatch(/gateway\.relayNetworks/);
    expect(results[0]!.message).not.toContain(results[0]!.description);
  });
});
