import { describe, expect, it } from 'vitest';
import { parseFailoverPairSpec, type FailoverPairSpecInput } from '../../components/spec';
import { platformEndpoint } from '../../policies/rules/failover-pairs';
import { COMPONENT, DOCKER, K8S, PROXMOX } from '../../policies/lib/tokens';
import { check, resource, violated } from './helpers';

/**
 * Policy 4 against the FailoverSite contract (`mailfleet:index:FailoverSite`
 * registers the pair's FailoverPairSpec as `spec`, `site`, its member's
 * `state` and, on the standby, the `primary` facts it copied from the
 * primary stack; the standby member's resources are named
 * `${pair}-all-1...`). Graphs are built by hand here, to reach shapes the
 * component refuses to build; test/stacks/failover-stacks.test.ts runs the
 * gate on what the component really builds.
 */

const site = (kind: 'proxmox' | 'vsphere' | 'kubernetes' | 'docker', name: string, endpoint: string): FailoverPairSpecInput['primary'] => {
  const net = { cidr: '10.10.0.0/24', gateway: '10.10.0.1', firstAddress: '10.10.0.20' };
  const storage = { kind: 'nfs' as const, server: '10.10.0.5', path: '/export/mail', sizeGiB: 2000, backup: { schedule: '0 3 * * *' } };
  switch (kind) {
    case 'proxmox':
      return { site: { name }, platform: { kind, endpoint, nodes: ['pve-a', 'pve-b'], templateVmId: 9000, network: net }, storage, member: { cpu: 4, memoryMiB: 8192 } };
    case 'vsphere':
      return { site: { name }, platform: { kind, server: endpoint, datacenter: 'dc', cluster: 'c', datastore: 'ds', network: 'pg', template: 't', addresses: net }, storage, member: { cpu: 4, memoryMiB: 8192 } };
    case 'kubernetes':
      return { site: { name }, platform: { kind, context: endpoint }, storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 2000, backup: { schedule: '0 3 * * *' } }, member: { cpu: 4, memoryMiB: 8192 } };
    case 'docker':
      return { site: { name }, platform: { kind, hosts: [endpoint] }, storage: { kind: 'docker-volume', nfs: { server: '10.10.0.5', path: '/export/mail' }, sizeGiB: 2000, backup: { schedule: '0 3 * * *' } }, member: { cpu: 4, memoryMiB: 8192 } };
  }
};

const ENDPOINTS = {
  proxmox: ['https://pve-ams.example.net:8006/', 'https://pve-fra.example.net:8006/'],
  vsphere: ['vcenter-ams.example.net', 'vcenter-fra.example.net'],
  kubernetes: ['ams-prod', 'fra-prod'],
  docker: ['ssh://deploy@ams.example.net', 'ssh://deploy@fra.example.net'],
} as const;

function pairSpec(kind: keyof typeof ENDPOINTS): Record<string, any> {
  // Validated once, like the component would, then turned back into plain data.
  const input: FailoverPairSpecInput = {
    kind: 'failover-pair',
    name: 'mail-geo',
    environment: 'production',
    hostname: 'mail.example.net',
    domains: [{ name: 'example.net', quota: { mailboxMiB: 2048, maxUsers: 500 } }],
    // sha256: the VM sites install the runtime tarball (verified-runtime-package).
    runtime: { image: 'ghcr.io/mailfleet/mailfleet:0.1.0', sha256: '9d4e1f2a3b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f50' },
    // Each site's own clamd (a failover pair deploys no appliances).
    filters: { antivirus: { kind: 'clamd', address: 'clamav.mail.internal:3310' } },
    primary: site(kind, 'ams1', ENDPOINTS[kind][0]),
    standby: site(kind, 'fra1', ENDPOINTS[kind][1]),
    failover: { mode: 'automatic', fencing: { storageLease: true, powerOff: true } },
  };
  return JSON.parse(JSON.stringify(parseFailoverPairSpec(input)));
}

const pairUrn = 'urn:pulumi:test::mailfleet::mailfleet:index:FailoverSite::mail-geo';

/** The facts a standby copies from its primary stack, as the primary of `spec` exports them. */
function factsOf(spec: Record<string, any>): Record<string, unknown> {
  const p = spec.primary;
  const storage = p.storage.kind === 'nfs' ? `nfs ${p.storage.server}:${p.storage.path}` : p.storage.kind === 'pvc-rwx' ? `pvc-rwx ${p.storage.storageClass}` : `nfs ${p.storage.nfs.server}:${p.storage.nfs.path}`;
  return { pair: spec.name, site: p.site.name, memberId: `${spec.name}-all-0`, platformEndpoints: platformEndpoint(p.platform), storage, leaseDir: '/var/lib/mailfleet/failover' };
}

/** A standby FailoverSite with its outputs and the standby member's platform resources. */
function graph(spec: Record<string, any>, standby: Array<{ type: string; props: Record<string, unknown>; name?: string }> = [], outputs: Record<string, unknown> = {}) {
  return {
    resources: [
      resource({ type: COMPONENT.failoverSite, name: 'mail-geo', props: { spec, site: 'standby', state: 'stopped', primary: factsOf(spec), ...outputs } }),
      ...standby.map((s, i) => resource({ type: s.type, name: s.name ?? `mail-geo-all-1${i ? `-${i}` : ''}`, parent: pairUrn, parentType: COMPONENT.failoverSite, props: s.props })),
    ],
  };
}

/** A stopped standby on each platform, as the FailoverPair contract asks. */
const STOPPED: Record<keyof typeof ENDPOINTS, Array<{ type: string; props: Record<string, unknown>; name?: string }>> = {
  proxmox: [
    { type: PROXMOX.vmLegacy, props: { name: 'mail-geo-all-1', nodeName: 'pve-a', started: false, onBoot: false, cpu: { cores: 4 }, memory: { dedicated: 8192 } } },
    { type: PROXMOX.haResource, name: 'mail-geo-all-1-ha', props: { resourceId: 'vm:4001', state: 'stopped' } },
  ],
  docker: [{ type: DOCKER.container, props: { name: 'mail-geo-all-1', image: 'ghcr.io/mailfleet/mailfleet:0.1.0', start: false, mustRun: false } }],
  kubernetes: [
    {
      type: K8S.statefulSet,
      name: 'mail-geo-all-1-statefulset',
      props: { spec: { replicas: 0, template: { spec: { containers: [{ name: 'mailfleet', image: 'ghcr.io/mailfleet/mailfleet:0.1.0', resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } } }] } } } },
    },
  ],
  vsphere: [],
};

describe('failover-pairs (policy 4)', () => {
  for (const kind of Object.keys(ENDPOINTS) as Array<keyof typeof ENDPOINTS>) {
    describe(`on ${kind}`, () => {
      it('a pair in two sites on two endpoints, fenced, with a stopped standby passes every policy', async () => {
        expect(await check(graph(pairSpec(kind), STOPPED[kind]))).toEqual([]);
      });

      it('the same site name for both sides reports failover-pairs', async () => {
        const spec = pairSpec(kind);
        spec.standby.site.name = 'ams1';
        const results = await check(graph(spec, STOPPED[kind]));
        expect(violated(results)).toEqual(['failover-pairs']);
        expect(results[0]!.message).toContain('same site');
      });

      it('both sides on the same platform endpoint reports failover-pairs', async () => {
        const spec = pairSpec(kind);
        spec.standby.platform = spec.primary.platform;
        const results = await check(graph(spec, STOPPED[kind]));
        expect(violated(results)).toEqual(['failover-pairs']);
        expect(results.map((r) => r.message).join('\n')).toContain('same platform endpoint');
      });

      it('automatic failover without fencing reports failover-pairs', async () => {
        const spec = pairSpec(kind);
        delete spec.failover.fencing;
        const results = await check(graph(spec, STOPPED[kind]));
        expect(violated(results)).toEqual(['failover-pairs']);
        expect(results[0]!.message).toContain('failover.fencing');
      });

      it('automatic failover with both fencing methods off reports failover-pairs', async () => {
        const spec = pairSpec(kind);
        spec.failover.fencing = { storageLease: false, powerOff: false };
        expect(violated(await check(graph(spec, STOPPED[kind])))).toEqual(['failover-pairs']);
      });

      it('a standby kept running (standbyState) reports failover-pairs', async () => {
        const spec = pairSpec(kind);
        spec.failover.standbyState = 'running';
        expect(violated(await check(graph(spec, STOPPED[kind])))).toEqual(['failover-pairs']);
      });
    });
  }

  it('a manual pair needs no fencing', async () => {
    const spec = pairSpec('proxmox');
    spec.failover = { ...spec.failover, mode: 'manual' };
    delete spec.failover.fencing;
    expect(await check(graph(spec, STOPPED.proxmox))).toEqual([]);
  });

  it.each([
    ['proxmox VM started', PROXMOX.vmLegacy, { started: true, cpu: { cores: 4 }, memory: { dedicated: 8192 } }],
    ['proxmox HA resource started', PROXMOX.haResource, { resourceId: 'vm:4001', state: 'started' }],
    ['docker container started', DOCKER.container, { image: 'ghcr.io/mailfleet/mailfleet:0.1.0', start: true }],
  ])('a standby resource that would run (%s) reports failover-pairs on that resource', async (_what, type, props) => {
    const results = await check(graph(pairSpec(type === DOCKER.container ? 'docker' : 'proxmox'), [{ type, props }]));
    expect(violated(results)).toEqual(['failover-pairs']);
    expect(results[0]!.urn).toContain('mail-geo-all-1');
  });

  describe('a standby against the primary facts it copied (what the primary stack really exported)', () => {
    it('a primary deployed in the standby\'s site is refused', async () => {
      const spec = pairSpec('kubernetes');
      const results = await check(graph(spec, STOPPED.kubernetes, { primary: { ...factsOf(spec), site: 'fra1' } }));
      expect(violated(results)).toEqual(['failover-pairs']);
      expect(results[0]!.message).toContain('same site "fra1"');
    });

    it('a primary on the standby\'s platform endpoint is refused', async () => {
      const spec = pairSpec('proxmox');
      const results = await check(graph(spec, STOPPED.proxmox, { primary: { ...factsOf(spec), platformEndpoints: ['proxmox pve-fra.example.net:8006'] } }));
      expect(violated(results)).toEqual(['failover-pairs']);
      expect(results[0]!.message).toContain('same platform endpoint');
    });

    it('facts from another pair\'s primary are refused', async () => {
      const spec = pairSpec('docker');
      const results = await check(graph(spec, STOPPED.docker, { primary: { ...factsOf(spec), pair: 'other' } }));
      expect(results[0]!.message).toContain('another pair');
    });

    it('a standby without the copied facts is reported, not silently passed', async () => {
      const spec = pairSpec('docker');
      const results = await check(graph(spec, STOPPED.docker, { primary: undefined }));
      expect(violated(results)).toEqual(['failover-pairs']);
      expect(results[0]!.message).toContain('no readable "primary" output');
    });

    it('a standby whose member reports running is refused', async () => {
      const spec = pairSpec('vsphere');
      expect(violated(await check(graph(spec, [], { state: 'running' })))).toEqual(['failover-pairs']);
    });

    it('storage: replication none with a standby on other storage than the primary writes to is refused', async () => {
      const spec = pairSpec('proxmox');
      spec.failover.replication = 'none';
      spec.standby.storage = { ...spec.standby.storage, server: '10.20.0.5' };
      const results = await check(graph(spec, STOPPED.proxmox));
      expect(violated(results)).toEqual(['failover-pairs']);
      expect(results.map((r) => r.message).join('\n')).toContain('without the primary\'s mail');
    });

    it('storage: a host-local docker volume cannot reach the other site', async () => {
      const spec = pairSpec('docker');
      delete spec.standby.storage.nfs;
      const results = await check(graph(spec, STOPPED.docker));
      expect(violated(results)).toEqual(['failover-pairs']);
      expect(results[0]!.message).toContain('cannot reach the other site');
    });
  });

  it('a FailoverSite without a readable spec output is reported, not silently passed', async () => {
    const results = await check({ resources: [resource({ type: COMPONENT.failoverSite, name: 'mail-geo', props: {} })] });
    expect(violated(results)).toContain('failover-pairs');
    expect(results.find((r) => r.policyName === 'failover-pairs')!.message).toContain('no readable "spec" output');
  });
});
