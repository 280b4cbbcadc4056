import { describe, expect, it } from 'vitest';
import { runPolicyPack } from '../../cli/preview/policy-gate';
import { parseClusterSpec } from '../../components/spec';
import { COMPONENT } from '../../policies/lib/tokens';
import { compliantSpec, modify, resource, violated, type DeployKind } from './helpers';

/**
 * Policy 13, verified-runtime-package, on the spec a MailCluster registers:
 * production clusters whose VMs install runtime.packageUrl pin its SHA-256.
 */

const POLICY = 'verified-runtime-package';

function clusterOnly(kind: DeployKind, change: (s: Record<string, any>) => void = () => {}) {
  const spec = JSON.parse(JSON.stringify(parseClusterSpec(modify(compliantSpec(kind), change))));
  return { resources: [resource({ type: COMPONENT.mailCluster, name: spec.name, props: { spec } })] };
}
const unpinned = (s: Record<string, any>) => delete s.runtime.sha256;

describe('verified-runtime-package', () => {
  it.each(['proxmox', 'vsphere'] as const)('%s in production without runtime.sha256: mandatory, says what to set', async (kind) => {
    const run = await runPolicyPack(clusterOnly(kind, unpinned));
    expect(violated(run.results)).toEqual([POLICY]);
    expect(run.results[0]!.enforcementLevel).toBe('mandatory');
    expect(run.results[0]!.message).toMatch(/installs https:\/\/registry\.npmjs\.org\/mailfleet\/-\/mailfleet-0\.1\.0\.tgz on its VMs without runtime\.sha256.*set runtime\.sha256/);
  });

  it.each(['proxmox', 'vsphere'] as const)('%s with runtime.sha256 passes', async (kind) => {
    expect((await runPolicyPack(clusterOnly(kind))).results).toEqual([]);
  });

  it('container platforms install no tarball: nothing to pin there (pinned-runtime-image covers images)', async () => {
    for (const kind of ['kubernetes', 'docker'] as const) expect((await runPolicyPack(clusterOnly(kind, unpinned))).results, kind).toEqual([]);
  });

  it('staging is not held to it unless the policy config says so', async () => {
    const staging = clusterOnly('proxmox', (s) => {
      unpinned(s);
      s.environment = 'staging';
    });
    expect((await runPolicyPack(staging)).results).toEqual([]);
    const held = await runPolicyPack(staging, { [POLICY]: { enforcementLevel: 'advisory', environments: ['production', 'staging'] } });
    expect(held.results.map((r) => [r.policyName, r.enforcementLevel])).toEqual([[POLICY, 'advisory']]);
  });

  it('a hand-built spec with a malformed hash is reported too', async () => {
    const spec = JSON.parse(JSON.stringify(parseClusterSpec(compliantSpec('vsphere'))));
    spec.runtime.sha256 = 'sha256:abc';
    const run = await runPolicyPack({ resources: [resource({ type: COMPONENT.mailCluster, name: spec.name, props: { spec } })] });
    expect(violated(run.results)).toEqual([POLICY]);
    expect(run.results[0]!.message).toMatch(/runtime\.sha256 is not a SHA-256/);
  });

  it('a failover pair with a site on Proxmox needs it as well', async () => {
    const spec = {
      kind: 'failover-pair',
      name: 'mail-geo',
      environment: 'production',
      runtime: { packageUrl: 'https://registry.npmjs.org/mailfleet/-/mailfleet-0.1.0.tgz' },
      primary: { platform: { kind: 'kubernetes' } },
      standby: { platform: { kind: 'proxmox', nodes: ['pve-a', 'pve-b'] } },
    };
    const run = await runPolicyPack({ resources: [resource({ type: COMPONENT.failoverSite, name: 'mail-geo', props: { spec } })] }, { 'failover-pairs': 'disabled' });
    expect(violated(run.results)).toContain(POLICY);
  });
});
