import { MailCluster } from '../../../../components/mail-cluster';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { dockerMockOutputs } from '../../../../components/platforms/docker/mocks';
import { installCapture, isSecretValue, unwrapSecrets, type Capture, type CapturedResource } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { parseRuntimeConfig } from '../../../../mail-runtime/config';
import { haproxyCheck, haproxyWarnings } from '../../haproxy/validators';

// Once per file, before anything that registers resources is imported.
const run = installCapture({ outputsFor: composeMockOutputs(commonMockOutputs, dockerMockOutputs) });

const root = join(__dirname, '..', '..', '..', '..');
const stackSpec = (): ClusterSpecInput =>
  (YAML.parse(readFileSync(join(root, 'stacks', 'Pulumi.ha-docker.yaml'), 'utf8')) as { config: Record<string, ClusterSpecInput> }).config['mailfleet:cluster']!;
const exampleSpec = (): ClusterSpecInput => YAML.parse(readFileSync(join(root, 'examples', 'specs', 'docker-ha.yaml'), 'utf8')) as ClusterSpecInput;

const T = {
  provider: 'pulumi:providers:docker',
  network: 'docker:index/network:Network',
  volume: 'docker:index/volume:Volume',
  container: 'docker:index/container:Container',
  remoteImage: 'docker:index/remoteImage:RemoteImage',
  image: 'docker:index/image:Image',
} as const;

const ofType = (cap: Capture, type: string) => cap.resources.filter((r) => r.type === type);
const byName = (cap: Capture, name: string) => {
  const r = cap.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource named ${name}; have ${cap.resources.map((x) => x.name).join(', ')}`);
  return r;
};
type Upload = { file: string; content: string; permissions?: string; owner?: string };
const uploadsOf = (r: CapturedResource) => unwrapSecrets(r.inputs.uploads) as Upload[];
const upload = (r: CapturedResource, file: string) => uploadsOf(r).find((u) => u.file === file);
/** The provider a resource was registered with, as its host URL. */
const hostOf = (cap: Capture, r: CapturedResource) => {
  const urn = r.options.provider?.split('::').slice(0, -1).join('::');
  return cap.resources.find((p) => p.urn === urn)?.inputs.host;
};

/** Every string in a value, outside secret wrappers. */
function plainStrings(v: unknown): string[] {
  if (isSecretValue(v)) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(plainStrings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(plainStrings);
  return [];
}

let cap3: Capture;
const spec3 = () => parseClusterSpec(stackSpec());
const MEMBERS = ['mail-dock-hub-0', 'mail-dock-hub-1', 'mail-dock-node-0', 'mail-dock-node-1', 'mail-dock-node-2', 'mail-dock-gateway-0', 'mail-dock-gateway-1', 'mail-dock-proxy-0', 'mail-dock-proxy-1'];
/** The stack deploys clamd (+ freshclam) and rspamd on the two hosts that run its gateways (appliances.test.ts has the details). */
const APPLIANCES = ['mail-dock-clamd-0', 'mail-dock-clamd-1', 'mail-dock-freshclam-0', 'mail-dock-freshclam-1', 'mail-dock-rspamd-0', 'mail-dock-rspamd-1'];
/** The mail volume on each host (not clamd's signature volumes). */
const mailVolumes = (cap: Capture) => ofType(cap, T.volume).filter((v) => v.inputs.name === 'mail-dock-mail');

beforeAll(async () => {
  cap3 = await run(() => new MailCluster('mail-dock', { spec: stackSpec() }));
});

describe('docker adapter: 3 hosts, 3 nodes (stacks/Pulumi.ha-docker.yaml)', () => {
  it('creates the expected resource types and counts', () => {
    expect(cap3.resources.length).toBeGreaterThan(20);
    expect(ofType(cap3, T.provider)).toHaveLength(3);
    expect(ofType(cap3, T.network)).toHaveLength(3);
    // The mail volume on each host, clamd's signatures on each gateway host.
    expect(mailVolumes(cap3)).toHaveLength(3);
    expect(ofType(cap3, T.volume)).toHaveLength(3 + 2);
    // Runtime image pulled on each host + HAProxy image on each LB host + clamd and rspamd on each gateway host; nothing built.
    expect(ofType(cap3, T.remoteImage)).toHaveLength(3 + 2 + 2 * 2);
    expect(ofType(cap3, T.image)).toHaveLength(0);
    expect(ofType(cap3, T.container).map((c) => c.name).sort()).toEqual([...MEMBERS, ...APPLIANCES, 'mail-dock-lb-0', 'mail-dock-lb-1'].sort());
    expect(cap3.duplicates).toEqual([]);
  });

  it('one provider per host, and member i of a role runs on hosts[i % 3]', () => {
    const spec = spec3();
    const hosts = spec.platform.kind === 'docker' ? spec.platform.hosts : [];
    expect(ofType(cap3, T.provider).map((p) => p.inputs.host).sort()).toEqual([...hosts].sort());
    for (const id of MEMBERS) {
      const index = Number(id.split('-').pop());
      expect(hostOf(cap3, byName(cap3, id)), id).toBe(hosts[index % 3]);
    }
    // Each host's network, volume and images are on that host's provider.
    for (let h = 0; h < 3; h++) {
      expect(hostOf(cap3, byName(cap3, `mail-dock-net-${h}`))).toBe(hosts[h]);
      expect(hostOf(cap3, byName(cap3, `mail-dock-storage-${h}`))).toBe(hosts[h]);
      expect(hostOf(cap3, byName(cap3, `mail-dock-image-${h}`))).toBe(hosts[h]);
    }
    expect(hostOf(cap3, byName(cap3, 'mail-dock-lb-1'))).toBe(hosts[1]);
  });

  it('every container restarts unless stopped, has limits from its role size and a /readyz health check', () => {
    const spec = spec3();
    for (const c of ofType(cap3, T.container)) expect(c.inputs.restart, c.name).toBe('unless-stopped');
    const node = byName(cap3, 'mail-dock-node-1').inputs;
    expect(node.memory).toBe(spec.nodes.memoryMiB);
    expect(node.cpus).toBe(String(spec.nodes.cpu));
    expect(byName(cap3, 'mail-dock-proxy-0').inputs.memory).toBe(spec.proxies.memoryMiB);
    const hc = node.healthcheck as { tests: string[] };
    expect(hc.tests.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(hc.tests[3]).toContain('http://127.0.0.1:9090/readyz');
    expect(node.sysctls).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0' });
  });

  it('the shared volume is NFS through the local driver, mounted by every member at /var/lib/mailfleet', () => {
    for (const v of mailVolumes(cap3)) {
      expect(v.inputs.driver).toBe('local');
      expect(v.inputs.driverOpts).toEqual({ type: 'nfs', o: 'addr=10.30.0.5,nfsvers=4.2,hard,timeo=600,retrans=2,noatime', device: ':/export/mail-dock' });
      expect(v.inputs.name).toBe('mail-dock-mail');
      expect(v.options.protect).toBe(true); // production mail is never deleted by accident
    }
    for (const id of MEMBERS) {
      expect(byName(cap3, id).inputs.mounts, id).toEqual([{ type: 'volume', source: 'mail-dock-mail', target: '/var/lib/mailfleet' }]);
    }
  });

  it('ships exactly the rendered RuntimeConfig to each member, as a file MAILFLEET_CONFIG names', () => {
    const rendered = new Map(renderRuntimeConfigs(spec3()).map((m) => [m.memberId, m.config]));
    for (const id of MEMBERS) {
      const c = byName(cap3, id);
      expect(c.inputs.envs).toEqual(['MAILFLEET_CONFIG=/etc/mailfleet/config.json']);
      const file = upload(c, '/etc/mailfleet/config.json');
      expect(file, id).toBeDefined();
      const parsed = parseRuntimeConfig(JSON.parse(file!.content), id);
      expect(parsed).toEqual(rendered.get(id));
      expect(file!.permissions).toBe('0444');
    }
  });

  it('secrets travel only as secret uploads, to the members that need them', () => {
    const adminToken = upload(byName(cap3, 'mail-dock-hub-0'), '/etc/mailfleet/secrets/admin-token')!.content;
    const clusterToken = upload(byName(cap3, 'mail-dock-node-0'), '/etc/mailfleet/secrets/cluster-token')!.content;
    const tlsKey = upload(byName(cap3, 'mail-dock-proxy-0'), '/etc/mailfleet/tls/tls.key')!.content;
    const dkimKey = upload(byName(cap3, 'mail-dock-gateway-0'), '/etc/mailfleet/secrets/dkim.key')!.content;
    for (const s of [adminToken, clusterToken, tlsKey, dkimKey]) expect(s.length).toBeGreaterThan(20);
    expect(tlsKey).toContain('PRIVATE KEY');
    expect(dkimKey).toContain('PRIVATE KEY');

    for (const id of MEMBERS) {
      const c = byName(cap3, id);
      // The uploads (config + secret files) are a Pulumi secret as a whole.
      expect(isSecretValue(c.inputs.uploads), id).toBe(true);
      const files = uploadsOf(c);
      const role = id.split('-')[2];
      expect(files.some((f) => f.file === '/etc/mailfleet/secrets/admin-token'), id).toBe(role === 'hub');
      expect(files.some((f) => f.file === '/etc/mailfleet/secrets/dkim.key'), id).toBe(role === 'gateway');
      for (const f of files.filter((x) => x.file.startsWith('/etc/mailfleet/secrets/') || x.file.endsWith('.key'))) {
        expect(f.permissions, `${id} ${f.file}`).toBe('0400');
        expect(f.owner).toBe('1000');
      }
    }
    // The cluster CA on every member; hubs, nodes and gateways also their role's certificate from it (proxies only dial out).
    const leafOf = (id: string) => upload(byName(cap3, id), '/etc/mailfleet/cluster-tls/tls.crt')?.content;
    for (const id of MEMBERS) {
      expect(upload(byName(cap3, id), '/etc/mailfleet/cluster-tls/ca.crt'), id).toBeDefined();
      const role = id.split('-')[2];
      expect(leafOf(id) !== undefined, id).toBe(role !== 'proxy');
      expect(upload(byName(cap3, id), '/etc/mailfleet/cluster-tls/tls.key')?.permissions ?? null, id).toBe(role === 'proxy' ? null : '0400');
      // The CA's key on hubs only: they sign each member's own certificate.
      expect(upload(byName(cap3, id), '/etc/mailfleet/cluster-tls/ca.key')?.permissions ?? null, id).toBe(role === 'hub' ? '0400' : null);
    }
    // One certificate per role: the nodes share one, distinct from the gateways' and the hubs'.
    expect(leafOf('mail-dock-node-0')).toBe(leafOf('mail-dock-node-2'));
    expect(new Set([leafOf('mail-dock-hub-0'), leafOf('mail-dock-node-0'), leafOf('mail-dock-gateway-0')]).size).toBe(3);
    // No secret value anywhere outside a secret wrapper: not in env, labels, names, the LB config...
    for (const r of cap3.resources) {
      for (const s of plainStrings(r.inputs)) {
        for (const secret of [adminToken, clusterToken, tlsKey, dkimKey]) expect(s.includes(secret), `${r.name}`).toBe(false);
      }
    }
  });

  it('members on other hosts are reachable by name: fixed addresses in per-host subnets and /etc/hosts entries', () => {
    const addr = (id: string) => ((byName(cap3, id).inputs.networksAdvanced as { ipv4Address?: string }[])[0]!.ipv4Address);
    const all = MEMBERS.map(addr);
    expect(new Set(all).size).toBe(MEMBERS.length);
    for (const a of all) expect(a).toMatch(/^10\.20[0-7]\.\d+\.\d+$/);
    // node-0 (host 0) knows node-1 (host 1) but not hub-0 (its own host, Docker's DNS has it).
    const hosts = byName(cap3, 'mail-dock-node-0').inputs.hosts as { host: string; ip: string }[];
    expect(hosts).toContainEqual({ host: 'mail-dock-node-1', ip: addr('mail-dock-node-1') });
    expect(hosts.map((h) => h.host)).not.toContain('mail-dock-hub-0');
    const nets = ofType(cap3, T.network);
    expect(nets.map((n) => n.inputs.name)).toEqual(['mail-dock-net', 'mail-dock-net', 'mail-dock-net']);
    const subnets = nets.map((n) => (n.inputs.ipamConfigs as { subnet: string }[])[0]!.subnet);
    expect(new Set(subnets).size).toBe(3);
  });

  it('HAProxy gets a valid config with every proxy and gateway and publishes the client ports, not 443', () => {
    const spec = spec3();
    for (const j of [0, 1]) {
      const lb = byName(cap3, `mail-dock-lb-${j}`);
      const cfg = upload(lb, '/usr/local/etc/haproxy/haproxy.cfg')!.content;
      for (const m of renderRuntimeConfigs(spec).filter((x) => x.role === 'proxy' || x.role === 'gateway')) {
        expect(cfg).toContain(`server ${m.memberId} `);
      }
      expect(cfg).not.toMatch(/^frontend admin/m);
      const r = haproxyCheck(cfg);
      expect(r.status, r.output).toBe(0);
      expect(haproxyWarnings(r.output, false)).toEqual([]);
      const ports = (lb.inputs.ports as { internal: number; external: number }[]).map((p) => p.external).sort((a, b) => a - b);
      expect(ports).toEqual(expect.arrayContaining([25, 110, 143, 465, 587, 993]));
      expect(ports).not.toContain(443);
      expect(String(lb.inputs.image)).toMatch(/^sha256:/);
    }
    // PROXY v2 on the MX backend only (the gateways trust their network for it, render.ts proxyProtocolWiring); the proxies' backends take none.
    const cfg0 = upload(byName(cap3, 'mail-dock-lb-0'), '/usr/local/etc/haproxy/haproxy.cfg')!.content;
    const servers = cfg0.split('\n').filter((l) => /^\s*server /.test(l));
    const gatewayServers = servers.filter((l) => l.includes('-gateway-'));
    expect(gatewayServers.length).toBeGreaterThan(0);
    for (const l of gatewayServers) expect(l).toMatch(/:25 .*send-proxy-v2/);
    for (const l of servers.filter((x) => !x.includes('-gateway-'))) expect(l).not.toContain('send-proxy-v2');
    for (const id of MEMBERS.filter((m) => m.includes('-gateway-'))) {
      const config = JSON.parse(upload(byName(cap3, id), '/etc/mailfleet/config.json')!.content) as { proxyProtocolFrom: string[] };
      expect(config.proxyProtocolFrom, id).toEqual(['0.0.0.0/0', '::/0']);
    }
    const lbImage = byName(cap3, 'mail-dock-lb-image-0').inputs.name as string;
    expect(lbImage).toMatch(/^haproxy:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  });

  it('scaling nodes 3 → 4 adds a container and keeps every existing URN', async () => {
    const input = stackSpec() as ClusterSpecInput & { nodes: { count: number } };
    input.nodes = { ...input.nodes, count: 4 };
    const cap4 = await run(() => new MailCluster('mail-dock', { spec: input }));
    const before = new Set(cap3.resources.map((r) => r.urn));
    const after = new Set(cap4.resources.map((r) => r.urn));
    for (const urn of before) expect(after.has(urn), urn).toBe(true);
    const added = [...after].filter((u) => !before.has(u));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/::mail-dock-node-3$/);
    expect(cap4.duplicates).toEqual([]);
    // node-3 lands on host 0 (3 mod 3).
    const spec = spec3();
    expect(hostOf(cap4, byName(cap4, 'mail-dock-node-3'))).toBe(spec.platform.kind === 'docker' ? spec.platform.hosts[0] : '');
  });
});

describe('docker adapter: other shapes', () => {
  it('runtime.build builds the image from the repository Dockerfile on each host, never pushed', async () => {
    const cap = await run(() => new MailCluster('mail-stage', { spec: exampleSpec() }));
    const images = ofType(cap, T.image);
    expect(images).toHaveLength(2);
    for (const i of images) {
      expect(i.inputs.skipPush).toBe(true);
      expect((i.inputs.build as { context: string }).context).toBe(root);
      expect((i.inputs.build as { dockerfile: string }).dockerfile).toBe(join(root, 'Dockerfile'));
    }
    expect(ofType(cap, T.remoteImage).map((r) => r.name).sort()).toEqual(['mail-stage-lb-image-0']);
    expect(byName(cap, 'mail-stage-node-0').inputs.image).toBe(images[0]!.inputs.imageName);
    expect(cap.duplicates).toEqual([]);
  });

  it('one host: Docker DNS names in HAProxy (resolvers), one LB container, admin published with the offset when public', async () => {
    const cap = await run(
      () =>
        new MailCluster('solo', {
          spec: { name: 'solo', platform: { kind: 'docker', publishOffset: 10000 }, domains: [{ name: 'solo.example' }], admin: { public: true } },
        }),
    );
    const lbs = ofType(cap, T.container).filter((c) => c.name.startsWith('solo-lb-'));
    expect(lbs.map((c) => c.name)).toEqual(['solo-lb-0']); // replicas 2 clamped to 1 host
    const lb = lbs[0]!;
    const cfg = upload(lb, '/usr/local/etc/haproxy/haproxy.cfg')!.content;
    expect(cfg).toContain('nameserver ns0 127.0.0.11:53');
    expect(cfg).toContain('server solo-proxy-0 solo-proxy-0:143 check port 9090');
    expect(cfg).toMatch(/^frontend admin$/m);
    const r = haproxyCheck(cfg);
    expect(r.status, r.output).toBe(0);
    expect(haproxyWarnings(r.output, true)).toEqual([]);
    const ports = lb.inputs.ports as { internal: number; external: number }[];
    expect(ports).toContainEqual({ internal: 443, external: 10443, protocol: 'tcp' });
    expect(ports).toContainEqual({ internal: 25, external: 10025, protocol: 'tcp' });
    // No fixed addresses and no /etc/hosts entries on one host.
    const node = byName(cap, 'solo-node-0');
    expect((node.inputs.networksAdvanced as { ipv4Address?: string }[])[0]!.ipv4Address).toBeUndefined();
    expect(node.inputs.hosts ?? []).toEqual([]);
    expect(ofType(cap, T.volume)[0]!.inputs.driverOpts).toBeUndefined();
    expect(cap.duplicates).toEqual([]);
  });

  it('external load balancer: no HAProxy container', async () => {
    const cap = await run(
      () => new MailCluster('ext', { spec: { name: 'ext', platform: { kind: 'docker' }, domains: [{ name: 'ext.example' }], loadBalancer: { kind: 'external', address: 'lb.ext.example' } } }),
    );
    expect(ofType(cap, T.container).filter((c) => c.name.includes('-lb-'))).toEqual([]);
    expect(ofType(cap, T.remoteImage).filter((c) => c.name.includes('-lb-'))).toEqual([]);
  });

  it.each<[string, (s: ClusterSpecInput) => ClusterSpecInput, RegExp]>([
    ['several hosts on a local volume', (s) => ({ ...s, storage: { kind: 'docker-volume', sizeGiB: 100 } }), /storage\.nfs: required with more than one Docker host/],
    ['a host that is not a Docker endpoint', (s) => ({ ...s, platform: { kind: 'docker', hosts: ['ssh://a', 'docker2.example.com'] } }), /platform\.hosts\[1\]: "docker2\.example\.com" must be a Docker endpoint/],
    ['the same host twice', (s) => ({ ...s, platform: { kind: 'docker', hosts: ['ssh://a', 'ssh://a'] } }), /platform\.hosts\[1\]: .* listed twice/],
  ])('rejects %s before creating anything, naming the field', async (_what, mutate, expected) => {
    await expect(run(() => new MailCluster('bad', { spec: mutate(stackSpec()) }))).rejects.toThrow(expected);
  });
});
