import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLAMD_IMAGE, RSPAMD_IMAGE, appliancePlan } from '../../../../components/appliances';
import { MailCluster } from '../../../../components/mail-cluster';
import { dockerMockOutputs } from '../../../../components/platforms/docker/mocks';
import { installCapture, type Capture, type CapturedResource } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';

/**
 * clamd (+ freshclam) and rspamd beside the gateways on Docker
 * (stacks/Pulumi.ha-docker.yaml: 3 hosts, 2 gateways on hosts 0 and 1):
 * containers per gateway host on its cluster network, a signature volume per
 * host, each gateway scanning on its own host.
 */

const run = installCapture({ outputsFor: composeMockOutputs(commonMockOutputs, dockerMockOutputs) });

const root = join(__dirname, '..', '..', '..', '..');
const stackSpec = (): ClusterSpecInput =>
  (YAML.parse(readFileSync(join(root, 'stacks', 'Pulumi.ha-docker.yaml'), 'utf8')) as { config: Record<string, ClusterSpecInput> }).config['mailfleet:cluster']!;
const withSpec = (patch: (s: Record<string, any>) => void): ClusterSpecInput => {
  const s = structuredClone(stackSpec()) as Record<string, any>;
  patch(s);
  return s as ClusterSpecInput;
};

const T = { container: 'docker:index/container:Container', volume: 'docker:index/volume:Volume', image: 'docker:index/remoteImage:RemoteImage' } as const;
const ofType = (cap: Capture, type: string) => cap.resources.filter((r) => r.type === type);
const byName = (cap: Capture, name: string) => {
  const r = cap.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource named ${name}`);
  return r;
};
const hostOf = (cap: Capture, r: CapturedResource) => {
  const urn = r.options.provider?.split('::').slice(0, -1).join('::');
  return cap.resources.find((p) => p.urn === urn)?.inputs.host;
};
const labelsOf = (r: CapturedResource) => Object.fromEntries((r.inputs.labels as { label: string; value: string }[]).map((l) => [l.label, l.value]));
const build = (spec: ClusterSpecInput) => run(() => new MailCluster('mail-dock', { spec }).appliances);

const HOSTS = ['ssh://deploy@docker1.example.com', 'ssh://deploy@docker2.example.com', 'ssh://deploy@docker3.example.com'];

let cap: Capture;
beforeAll(async () => {
  cap = await build(stackSpec());
});

describe('docker: clamd and rspamd beside the gateways (stacks/Pulumi.ha-docker.yaml)', () => {
  it('per gateway host: clamd, freshclam and rspamd containers and a signature volume, on that host, children of the Gateway', () => {
    expect(cap.duplicates).toEqual([]);
    const gateway = cap.resources.find((r) => r.type === 'mailfleet:index:Gateway')!;
    for (const h of [0, 1]) {
      for (const name of [`mail-dock-clamd-${h}`, `mail-dock-freshclam-${h}`, `mail-dock-rspamd-${h}`, `mail-dock-gateway-clamd-signatures-${h}`, `mail-dock-gateway-clamd-image-${h}`, `mail-dock-gateway-rspamd-image-${h}`]) {
        const r = byName(cap, name);
        expect(hostOf(cap, r), name).toBe(HOSTS[h]);
        expect(r.parent, name).toBe(gateway.urn);
      }
    }
    // Host 2 runs no gateway, so no appliance either.
    expect(cap.resources.filter((r) => /-(clamd|freshclam|rspamd)-2$/.test(r.name))).toEqual([]);
    expect(ofType(cap, T.image).filter((i) => i.inputs.name === CLAMD_IMAGE)).toHaveLength(2);
    expect(ofType(cap, T.image).filter((i) => i.inputs.name === RSPAMD_IMAGE)).toHaveLength(2);
  });

  it('each gateway scans on its own host, by container name on that host\'s network', () => {
    const spec = parseClusterSpec(stackSpec());
    for (const gw of renderRuntimeConfigs(spec).filter((m) => m.role === 'gateway')) {
      if (gw.config.role !== 'gateway') throw new Error('role');
      const h = gw.index % 3;
      expect(gw.config.filters.clamd?.address).toBe(`mail-dock-clamd-${h}:3310`);
      expect(gw.config.filters.spam?.address).toBe(`mail-dock-rspamd-${h}:11333`);
      expect(hostOf(cap, byName(cap, gw.memberId))).toBe(hostOf(cap, byName(cap, `mail-dock-clamd-${h}`)));
      for (const name of [`mail-dock-clamd-${h}`, `mail-dock-rspamd-${h}`]) {
        const c = byName(cap, name).inputs;
        // Same network as the gateway, reachable by its name; nothing published on the host.
        expect(c.networksAdvanced).toEqual([{ name: 'mail-dock-net', aliases: [name] }]);
        expect(c.networksAdvanced).toEqual([expect.objectContaining({ name: (byName(cap, gw.memberId).inputs.networksAdvanced as { name: string }[])[0]!.name })]);
        expect(c.ports).toBeUndefined();
        expect(labelsOf(byName(cap, name))['mailfleet.serves']).toBe(gw.memberId);
      }
    }
  });

  it('clamd: the clamav user, clamd.conf uploaded, signatures on the volume, PING/PONG health check, sized; freshclam beside it on the same volume', () => {
    const plan = appliancePlan(parseClusterSpec(stackSpec()), 'container').clamd!;
    const clamd = byName(cap, 'mail-dock-clamd-0').inputs;
    expect(clamd).toMatchObject({ user: '100', entrypoints: ['clamd'], restart: 'unless-stopped', memory: 3072, cpus: '1' });
    expect(clamd.uploads).toEqual([{ file: '/etc/clamav/clamd.conf', content: plan.clamdConf, permissions: '0444' }]);
    expect(clamd.mounts).toEqual([{ type: 'volume', source: 'mail-dock-clamav-signatures', target: '/var/lib/clamav' }]);
    expect(clamd.healthcheck).toMatchObject({ tests: ['CMD', 'clamdscan', '--ping', '1'] });
    const freshclam = byName(cap, 'mail-dock-freshclam-0').inputs;
    expect(freshclam).toMatchObject({ user: '100', entrypoints: ['freshclam'], command: ['--daemon', '--stdout'] });
    expect(freshclam.uploads).toEqual([{ file: '/etc/clamav/freshclam.conf', content: plan.freshclamConf, permissions: '0444' }]);
    expect(freshclam.mounts).toEqual(clamd.mounts);
    // A per-host volume for signatures, not NFS: it holds no mail.
    const volume = byName(cap, 'mail-dock-gateway-clamd-signatures-0').inputs;
    expect(volume).toMatchObject({ name: 'mail-dock-clamav-signatures', driver: 'local' });
    expect(volume.driverOpts).toBeUndefined();
    expect(labelsOf(byName(cap, 'mail-dock-clamd-0'))).toMatchObject({ 'mailfleet.role': 'appliance', 'mailfleet.appliance': 'clamd' });
  });

  it('rspamd: its image\'s user, local.d uploaded, a GET /ping health check', () => {
    const plan = appliancePlan(parseClusterSpec(stackSpec()), 'container').rspamd!;
    const rspamd = byName(cap, 'mail-dock-rspamd-1').inputs;
    expect(rspamd).toMatchObject({ user: '11333:11333', memory: 1024 });
    expect(rspamd.uploads).toEqual(Object.entries(plan.localFiles).map(([file, content]) => ({ file: `/etc/rspamd/local.d/${file}`, content, permissions: '0444' })));
    expect((rspamd.healthcheck as { tests: string[] }).tests.join(' ')).toContain('GET /ping');
  });

  it('updates.mode none: clamd alone, reading its (operator\'s) image, no volume, no freshclam', async () => {
    const none = await build(withSpec((s) => (s.filters.antivirus = { kind: 'clamd', deploy: true, updates: { mode: 'none' }, image: 'registry.corp.example/clamav-with-signatures:2026.1.15' })));
    expect(none.resources.filter((r) => /freshclam|signatures/.test(r.name))).toEqual([]);
    expect(byName(none, 'mail-dock-clamd-0').inputs.mounts).toEqual([]);
    expect(byName(none, 'mail-dock-gateway-clamd-image-0').inputs.name).toBe('registry.corp.example/clamav-with-signatures:2026.1.15');
  });

  it('scaling gateways 2 → 3 adds host 2\'s appliances and keeps every URN', async () => {
    const three = await build(withSpec((s) => (s.gateways.count = 3)));
    const before = new Set(cap.resources.map((r) => r.urn));
    const added = three.resources.filter((r) => !before.has(r.urn)).map((r) => r.name).sort();
    expect(added).toEqual(
      ['mail-dock-clamd-2', 'mail-dock-freshclam-2', 'mail-dock-rspamd-2', 'mail-dock-gateway-clamd-image-2', 'mail-dock-gateway-clamd-signatures-2', 'mail-dock-gateway-rspamd-image-2', 'mail-dock-gateway-2'].sort(),
    );
    expect(three.resources.filter((r) => before.has(r.urn))).toHaveLength(cap.resources.length);
  });

  it('one host: the appliances beside the one gateway host; an external scanner creates nothing', async () => {
    const single = await build(withSpec((s) => (s.platform.hosts = ['unix:///var/run/docker.sock'])));
    expect(ofType(single, T.container).map((c) => c.name).filter((n) => /clamd|rspamd|freshclam/.test(n)).sort()).toEqual(['mail-dock-clamd-0', 'mail-dock-freshclam-0', 'mail-dock-rspamd-0']);
    const ext = await build(withSpec((s) => (s.filters.antivirus = { kind: 'clamd', address: '10.30.0.20:3310' })));
    expect(ext.resources.filter((r) => /clamd|freshclam|signatures/.test(r.name))).toEqual([]);
    expect(ext.resources.filter((r) => /rspamd/.test(r.name)).length).toBeGreaterThan(0);
  });
});
