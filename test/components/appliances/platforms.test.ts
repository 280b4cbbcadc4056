import { describe, expect, it } from 'vitest';
import { MailCluster, type ClusterAppliance } from '../../../components/mail-cluster';
import { credentialsFromStackConfig } from '../../../components/platforms';
import { commonMockOutputs, composeMockOutputs, installCapture, platformInvokeResult, platformMockOutputs, unwrapSecrets, type Capture } from '../../../components/offline';
import { renderRuntimeConfigs } from '../../../components/render';
import { parseClusterSpec, parseTopologySpec, type ClusterSpecInput } from '../../../components/spec';
import { recordAliases, resolveAgainst } from '../engine-aliases';

/**
 * The same promise on every platform: with `deploy: true` each gateway's
 * RuntimeConfig points at a clamd and an rspamd the platform really creates
 * (a Service, a container, a VM at that address), every appliance serves
 * gateways, and an external address (`deploy: false`) creates nothing.
 */

const run = installCapture({
  stack: 'appliances',
  config: { 'proxmoxve:apiToken': 'mailfleet@pve!deploy=0b6c3a4e-1f2d-4c5b-9a8e-7d6c5b4a3f21', 'vsphere:user': 'svc@vsphere.local', 'vsphere:password': 'pw' },
  secretKeys: ['proxmoxve:apiToken', 'vsphere:password'],
  outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs),
  invokeResult: platformInvokeResult,
});
const aliases = recordAliases();

const vmNet = { cidr: '10.70.0.0/24', gateway: '10.70.0.1', firstAddress: '10.70.0.10' };
const nfs = { kind: 'nfs' as const, server: '10.70.0.5', path: '/export/mail', sizeGiB: 100 };
const PLATFORMS: Record<'kubernetes' | 'docker' | 'proxmox' | 'vsphere', Pick<ClusterSpecInput, 'platform' | 'storage' | 'loadBalancer'>> = {
  kubernetes: { platform: { kind: 'kubernetes' }, storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 100 } },
  docker: { platform: { kind: 'docker', hosts: ['ssh://d1.example.net', 'ssh://d2.example.net'] }, storage: { kind: 'docker-volume', sizeGiB: 100, nfs: { server: '10.70.0.5', path: '/export/mail' } } },
  proxmox: { platform: { kind: 'proxmox', endpoint: 'https://pve.example.net:8006/', nodes: ['pve1', 'pve2'], templateVmId: 9000, network: vmNet }, storage: nfs },
  vsphere: {
    platform: { kind: 'vsphere', server: 'vc.example.net', datacenter: 'dc1', cluster: 'c1', datastore: 'ds1', network: 'pg1', template: 'debian-12', addresses: vmNet },
    storage: nfs,
    loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.70.0.8' },
  },
};

const DEPLOYED = { antivirus: { kind: 'clamd' as const, deploy: true }, spam: { kind: 'rspamd' as const, deploy: true } };
const spec = (kind: keyof typeof PLATFORMS, filters: ClusterSpecInput['filters'], gateways = 3): ClusterSpecInput => ({
  name: 'av',
  domains: [{ name: 'example.com' }],
  gateways: { count: gateways },
  filters,
  ...PLATFORMS[kind],
});

async function capture(input: ClusterSpecInput): Promise<{ cap: Capture; appliances: ClusterAppliance[] }> {
  const parsed = parseClusterSpec(input);
  const cap = await run(() => new MailCluster('av', { spec: input, credentials: credentialsFromStackConfig(parsed.platform.kind) }));
  expect(cap.duplicates).toEqual([]);
  const root = cap.resources.find((r) => r.type === MailCluster.type)!;
  return { cap, appliances: root.outputs.appliances as ClusterAppliance[] };
}

/** True when `host:port` names something the capture creates on that platform. */
function created(cap: Capture, kind: string, address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':'));
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const inputs = cap.resources.map((r) => ({ type: r.type, i: unwrapSecrets(r.inputs) as any }));
  switch (kind) {
    case 'kubernetes':
      return inputs.some(({ type, i }) => type === 'kubernetes:core/v1:Service' && `${i.metadata.name}.mailfleet-av.svc.cluster.local` === host && i.spec.ports.some((p: any) => p.port === port));
    case 'docker':
      return inputs.some(({ type, i }) => type === 'docker:index/container:Container' && i.name === host);
    case 'proxmox':
      return inputs.some(({ type, i }) => type === 'proxmoxve:index/vmLegacy:VmLegacy' && i.initialization.ipConfigs[0].ipv4.address === `${host}/24`);
    default:
      return inputs.some(({ type, i }) => type === 'vsphere:index/virtualMachine:VirtualMachine' && String(i.annotation).includes(`, ${host}.`));
  }
}

describe('appliances beside the gateways, on every platform', () => {
  it.each(Object.keys(PLATFORMS) as (keyof typeof PLATFORMS)[])('%s: every gateway scans at a clamd and an rspamd the platform creates; every appliance serves gateways', async (kind) => {
    const input = spec(kind, DEPLOYED);
    const { cap, appliances } = await capture(input);
    expect(appliances.length).toBeGreaterThanOrEqual(2);
    const gateways = renderRuntimeConfigs(parseClusterSpec(input)).filter((m) => m.role === 'gateway');
    expect(gateways).toHaveLength(3);
    for (const g of gateways) {
      const config = g.config;
      if (config.role !== 'gateway') throw new Error('role');
      const clamd = appliances.find((a) => a.kind === 'clamd' && a.address === config.filters.clamd?.address);
      const rspamd = appliances.find((a) => a.kind === 'rspamd' && a.address === config.filters.spam?.address);
      expect(clamd?.gateways, `${g.memberId} clamd`).toContain(g.memberId);
      expect(rspamd?.gateways, `${g.memberId} rspamd`).toContain(g.memberId);
      expect(config.filters.clamd?.onError).toBe('tempfail');
      expect(config.filters.spam).toMatchObject({ kind: 'rspamd', rejectScore: 15, junkScore: 5, onError: 'accept' });
    }
    for (const a of appliances) {
      expect(a.gateways.length, a.id).toBeGreaterThan(0);
      expect(created(cap, kind, a.address), `${a.id} at ${a.address}`).toBe(true);
    }
    // Each gateway is served by exactly one appliance of each kind.
    for (const k of ['clamd', 'rspamd']) {
      expect(appliances.filter((a) => a.kind === k).flatMap((a) => a.gateways).sort()).toEqual(gateways.map((g) => g.memberId).sort());
    }
  });

  it.each(Object.keys(PLATFORMS) as (keyof typeof PLATFORMS)[])('%s: an external scanner (deploy: false, address) creates no appliance', async (kind) => {
    const { cap, appliances } = await capture(spec(kind, { antivirus: { kind: 'clamd', address: '10.80.0.5:3310' }, spam: { kind: 'spamd', address: '10.80.0.6:783' } }, 2));
    expect(appliances).toEqual([]);
    expect(cap.resources.filter((r) => /clamd|rspamd|freshclam|appliance/.test(r.name))).toEqual([]);
    const gw = renderRuntimeConfigs(parseClusterSpec(spec(kind, { antivirus: { kind: 'clamd', address: '10.80.0.5:3310' }, spam: { kind: 'spamd', address: '10.80.0.6:783' } }, 2))).find((m) => m.role === 'gateway')!;
    if (gw.config.role !== 'gateway') throw new Error('role');
    expect(gw.config.filters.clamd?.address).toBe('10.80.0.5:3310');
    expect(gw.config.filters.spam).toEqual({ kind: 'spamd', address: '10.80.0.6:783', rejectScore: 15, junkScore: 5, onError: 'accept', timeoutMs: 30000 });
  });

  it.each(Object.keys(PLATFORMS) as (keyof typeof PLATFORMS)[])('%s: renaming the cluster (renamedFrom) moves the appliances too, nothing is replaced', async (kind) => {
    const input = spec(kind, DEPLOYED);
    const credentials = credentialsFromStackConfig(parseClusterSpec(input).platform.kind);
    aliases.clear();
    const before = { cap: await run(() => new MailCluster('av', { spec: input, credentials })), aliases: new Map(aliases) };
    aliases.clear();
    const after = { cap: await run(() => new MailCluster('renamed', { spec: input, credentials, renamedFrom: 'av' })), aliases: new Map(aliases) };
    aliases.clear();
    const outcome = resolveAgainst(before, after, 'appliances', 'mailfleet');
    expect(outcome.created).toEqual([]);
    expect(outcome.deleted).toEqual([]);
    expect(outcome.moved.size).toBe(before.cap.resources.length);
    expect(before.cap.resources.filter((r) => /clamd|rspamd|freshclam|appliance/.test(r.name)).length).toBeGreaterThan(0);
  });

  it('the local platform and failover pairs deploy no appliances: the spec says so on the field', () => {
    expect(() => parseTopologySpec({ name: 'l', platform: { kind: 'local' }, domains: [{ name: 'example.com' }], filters: DEPLOYED })).toThrow(/filters\.antivirus\.deploy: local runs no appliances/);
    const site = (name: string) => ({ site: { name }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 10 } });
    expect(() => parseTopologySpec({ kind: 'failover-pair', name: 'p', domains: [{ name: 'example.com' }], primary: site('a'), standby: site('b'), filters: DEPLOYED })).toThrow(
      /filters\.spam\.deploy: a failover pair deploys no appliances: run rspamd at each site yourself/,
    );
  });
});
