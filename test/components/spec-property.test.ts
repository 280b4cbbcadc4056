import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MailCluster } from '../../components/mail-cluster';
import { credentialsFromStackConfig } from '../../components/platforms';
import { commonMockOutputs, composeMockOutputs, installCapture, platformInvokeResult, platformMockOutputs } from '../../components/offline';
import { kubernetesNamespace, renderAppliances, renderRuntimeConfigs } from '../../components/render';
import { MAX_MEMBER_ID_LENGTH, SpecError, parseClusterSpec, parseTopologySpec, type ClusterSpec, type TopologySpec } from '../../components/spec';
import { PLATFORMS, clusterInput, topologyInput } from './spec-arbitraries';

/**
 * What `mailfleet validate` accepts, the preview accepts: for generated specs
 * on every platform and both topologies, a spec that parseTopologySpec
 * accepts renders every member's RuntimeConfig, and a cluster builds all its
 * Pulumi resources under mocks (a failover pair has no component yet:
 * rendering is what it has). A spec it rejects gets plain messages, one line
 * per field. Counterexamples found here became table tests in
 * spec-findings.test.ts.
 */

/** Stack config the platforms read at preview: credentials are config, never spec. */
const CONFIG = {
  'proxmoxve:apiToken': 'mailfleet@pve!deploy=0b6c3a4e-1f2d-4c5b-9a8e-7d6c5b4a3f21',
  'vsphere:user': 'svc-mailfleet@vsphere.local',
  'vsphere:password': 'vc-password',
};
const run = installCapture({
  stack: 'property',
  config: CONFIG,
  secretKeys: ['proxmoxve:apiToken', 'vsphere:password'],
  outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs),
  invokeResult: platformInvokeResult,
});

/** The key `tls.mode: provided` names; the stack program reads it from secret config. */
const SECRETS = { tlsPrivateKey: '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n' };

/** zod's own English, which no message may show (mail-runtime/config/validation.ts rewords it). */
const LIBRARY_TEXT = /Invalid input|Invalid option|Invalid discriminator|Too (big|small)|expected \w+, received|Unrecognized key|Invalid (string|URL|number)/;

/** Parses; a rejection must be a SpecError with plain messages, one per field. */
function accept(input: unknown): TopologySpec | undefined {
  try {
    return parseTopologySpec(input);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    const paths = err.problems.map((p) => p.path);
    expect(new Set(paths).size, `one line per field:\n${err.message}`).toBe(paths.length);
    for (const p of err.problems) expect(p.message, `${p.path}: ${p.message}`).not.toMatch(LIBRARY_TEXT);
    return undefined;
  }
}

/** Everything rendering promises: unique members, ids within their limit, Kubernetes namespaces DNS labels. */
function checkRendered(spec: TopologySpec) {
  const members = renderRuntimeConfigs(spec);
  const ids = members.map((m) => m.memberId);
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) expect(id.length).toBeLessThanOrEqual(MAX_MEMBER_ID_LENGTH);
  if (spec.kind === 'cluster') {
    expect(members).toHaveLength(spec.hubs.count + spec.nodes.count + spec.gateways.count + spec.proxies.count);
    if (spec.platform.kind === 'kubernetes') expect(kubernetesNamespace(spec)).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    // A deployed scanner is where every gateway looks for it; an operator's scanner is used as written.
    const appliances = renderAppliances(spec).map((a) => `${a.kind} ${a.host}:${a.port}`);
    const addresses = new Set(members.map((m) => m.address));
    for (const m of members) {
      if (m.config.role !== 'gateway') continue;
      const { antivirus, spam } = spec.filters;
      const clamd = m.config.filters.clamd?.address;
      const scanner = m.config.filters.spam?.address;
      expect(clamd === undefined).toBe(antivirus === undefined);
      if (antivirus?.deploy) expect(appliances).toContain(`clamd ${clamd}`);
      else if (antivirus) expect(clamd).toBe(antivirus.address);
      if (spam?.deploy) expect(appliances).toContain(`rspamd ${scanner}`);
      else if (spam) expect(scanner).toBe(spam.address);
    }
    // On VM platforms an appliance's address is nobody else's.
    if (spec.platform.kind === 'proxmox' || spec.platform.kind === 'vsphere') {
      for (const a of renderAppliances(spec)) expect(addresses.has(a.host), a.host).toBe(false);
    }
  }
}

describe('what validate accepts, renders (property)', () => {
  it('clusters and failover pairs on every platform, counts up to the largest allowed', () => {
    let accepted = 0;
    fc.assert(
      fc.property(topologyInput({ bigCounts: true }), (input) => {
        const spec = accept(input);
        if (!spec) return;
        accepted++;
        checkRendered(spec);
      }),
      { numRuns: 600 },
    );
    // The generator must reach the accepting side often enough to mean something.
    expect(accepted).toBeGreaterThan(60);
  });
});

/** True when the spec is accepted (the preview property is about accepted specs; rejections are covered above). */
const accepted = (input: unknown) => {
  try {
    parseTopologySpec(input);
    return true;
  } catch {
    return false;
  }
};

describe('what validate accepts, previews (property, Pulumi mocks)', () => {
  it.each(['kubernetes', 'docker', 'proxmox', 'vsphere'] as const)('an accepted cluster on %s builds every resource, no URN twice', async (kind) => {
    await fc.assert(
      fc.asyncProperty(clusterInput({ bigCounts: false }, PLATFORMS[kind]).filter(accepted), async (input) => {
        const spec = parseClusterSpec(input);
        expect(spec.platform.kind).toBe(kind);
        checkRendered(spec);
        let error: unknown;
        const cap = await run(() => {
          try {
            new MailCluster(spec.name, { spec, secrets: SECRETS, credentials: credentialsFromStackConfig(spec.platform.kind) });
          } catch (err) {
            error = err;
          }
        });
        expect(error, `accepted spec failed to preview: ${JSON.stringify(input)}`).toBeUndefined();
        expect(cap.duplicates).toEqual([]);
        expect(cap.resources.length).toBeGreaterThan(5);
      }),
      // Pulumi mocks take ~0.1–0.5 s per cluster: 12 clusters per platform keep this file well under a minute.
      { numRuns: 12 },
    );
  }, 60_000);
});

describe('the two entry points agree', () => {
  it('parseClusterSpec and parseTopologySpec agree on clusters', () => {
    fc.assert(
      fc.property(clusterInput({ bigCounts: true }), (input) => {
        const a = accept(input);
        let b: ClusterSpec | undefined;
        try {
          b = parseClusterSpec(input);
        } catch {
          b = undefined;
        }
        expect(b === undefined).toBe(a === undefined);
      }),
      { numRuns: 100 },
    );
  });
});

describe('the fullest VM address plan previews', () => {
  it('vsphere with every block full (5 hubs, 5 HAProxy VMs, 20 gateways, 20 proxies) and its edges', async () => {
    const input = {
      name: 'full',
      domains: [{ name: 'example.com' }],
      platform: {
        kind: 'vsphere',
        server: 'vcenter.example.net',
        datacenter: 'dc1',
        cluster: 'compute',
        datastore: 'vsan',
        network: 'mail-pg',
        template: 'debian-12',
        // Hubs .2–.6, HAProxy .7–.11, gateways .12–.31, proxies .32–.51, nodes from .52.
        addresses: { cidr: '10.40.0.0/25', gateway: '10.40.0.1', firstAddress: '10.40.0.2' },
      },
      storage: { kind: 'nfs', server: 'nfs.example.net', path: '/export/mail', sizeGiB: 100 },
      hubs: { count: 5 },
      gateways: { count: 20 },
      proxies: { count: 20 },
      nodes: { count: 4 },
      loadBalancer: { kind: 'haproxy', replicas: 5, vip: '10.40.0.100' },
    };
    // The edges, each on its field: the broadcast address as VIP, a 21st gateway, nodes past the subnet's end.
    expect(() => parseClusterSpec({ ...input, loadBalancer: { ...input.loadBalancer, vip: '10.40.0.127' } })).toThrow(
      'loadBalancer.vip: 10.40.0.127 is not a host address in 10.40.0.0/25 (platform.addresses.cidr)',
    );
    expect(() => parseClusterSpec({ ...input, gateways: { count: 21 } })).toThrow('gateways.count: at most 20 gateways fit the VM address plan (gateways take firstAddress + 10…29)');
    expect(() => parseClusterSpec({ ...input, nodes: { count: 76 } })).toThrow('platform.addresses.cidr: 10.40.0.0/25 from 10.40.0.2 has no room for 76 nodes (nodes start at firstAddress + 50)');
    const spec = parseClusterSpec(input);
    const cap = await run(() => new MailCluster(spec.name, { spec, secrets: SECRETS, credentials: credentialsFromStackConfig(spec.platform.kind) }));
    expect(cap.duplicates).toEqual([]);
    expect(cap.resources.filter((r) => r.type === 'vsphere:index/virtualMachine:VirtualMachine')).toHaveLength(5 + 5 + 20 + 20 + 4);
  }, 60_000);
});
