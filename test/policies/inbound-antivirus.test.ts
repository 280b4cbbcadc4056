import { describe, expect, it } from 'vitest';
import { parseClusterSpec, parseFailoverPairSpec } from '../../components/spec';
import { runPolicyPack } from '../../cli/preview/policy-gate';
import { COMPONENT } from '../../policies/lib/tokens';
import { compliantSpec, modify, resource, violated } from './helpers';

/**
 * Policy 13 (advisory): a production cluster or failover pair that takes
 * inbound mail scans it for viruses. Here on the registered spec alone; the
 * platform suites (kubernetes.test.ts ...) run it on every platform's
 * resources, and on gateway configs that lost their clamd.
 */

const clusterOnly = (change: (s: Record<string, any>) => void = () => {}) => {
  const spec = JSON.parse(JSON.stringify(parseClusterSpec(modify(compliantSpec('kubernetes'), change))));
  return { resources: [resource({ type: COMPONENT.mailCluster, name: spec.name, props: { spec } })] };
};

const pairOnly = (filters: Record<string, unknown> | undefined) => {
  const site = (name: string, host: string) => ({ site: { name }, platform: { kind: 'docker' as const, hosts: [host] }, storage: { kind: 'docker-volume' as const, nfs: { server: '10.0.0.5', path: '/m' }, sizeGiB: 10 } });
  const spec = JSON.parse(
    JSON.stringify(
      parseFailoverPairSpec({ kind: 'failover-pair', name: 'geo', environment: 'production', domains: [{ name: 'example.net' }], primary: site('ams1', 'ssh://a'), standby: site('fra1', 'ssh://b'), filters }),
    ),
  );
  return { resources: [resource({ type: COMPONENT.failoverSite, name: 'geo', props: { spec } })] };
};

describe('inbound-antivirus (policy 13, advisory)', () => {
  it('a production cluster with no antivirus: one advisory finding that says where to turn it on', async () => {
    const run = await runPolicyPack(clusterOnly((s) => delete s.filters.antivirus));
    expect(violated(run.results)).toEqual(['inbound-antivirus']);
    expect(run.results).toHaveLength(1);
    const r = run.results[0]!;
    expect(r.enforcementLevel).toBe('advisory');
    expect(r.message).toBe(
      'production cluster "mail-k8s" is the MX for example.com but scans no inbound mail for viruses: add filters.antivirus: { kind: clamd, deploy: true } (clamd with freshclam beside the gateways) or { kind: clamd, address: <your clamd host:port> }.',
    );
  });

  it('a deployed clamd or the operator\'s own both satisfy it', async () => {
    expect((await runPolicyPack(clusterOnly())).results).toEqual([]);
    expect((await runPolicyPack(clusterOnly((s) => (s.filters.antivirus = { kind: 'clamd', address: '10.0.0.5:3310' })))).results).toEqual([]);
  });

  it('staging is left alone unless the policy config names it', async () => {
    const staging = clusterOnly((s) => {
      delete s.filters.antivirus;
      s.environment = 'staging';
    });
    expect((await runPolicyPack(staging)).results).toEqual([]);
    expect(violated((await runPolicyPack(staging, { 'inbound-antivirus': { environments: ['production', 'staging'] } })).results)).toEqual(['inbound-antivirus']);
    // And it can be made blocking.
    const blocking = await runPolicyPack(clusterOnly((s) => delete s.filters.antivirus), { 'inbound-antivirus': 'mandatory' });
    expect(blocking.results.map((r) => r.enforcementLevel)).toEqual(['mandatory']);
  });

  it('a failover pair is an MX too: its own clamd satisfies it, none is a finding', async () => {
    expect(violated((await runPolicyPack(pairOnly(undefined))).results)).toContain('inbound-antivirus');
    expect(violated((await runPolicyPack(pairOnly({ antivirus: { kind: 'clamd', address: '10.0.0.5:3310' } }))).results)).not.toContain('inbound-antivirus');
  });
});
