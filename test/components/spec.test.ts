import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { SpecError, parseClusterSpec, parseFailoverPairSpec, parseTopologySpec, plannedMailGiB } from '../../components/spec';
import { renderRuntimeConfigs } from '../../components/render';

const specsDir = join(__dirname, '..', '..', 'examples', 'specs');
const load = (file: string): unknown => YAML.parse(readFileSync(file, 'utf8'));
const problemsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).problems;
  }
  throw new Error('expected a SpecError');
};

describe('example specs', () => {
  const valid = readdirSync(specsDir).filter((f) => f.endsWith('.yaml'));
  it('ships at least local, kubernetes HA and a proxmox failover pair', () => {
    expect(valid).toEqual(expect.arrayContaining(['local.yaml', 'kubernetes-ha.yaml', 'proxmox-failover.yaml']));
  });
  it.each(valid)('%s is valid', (file) => {
    const spec = parseTopologySpec(load(join(specsDir, file)));
    expect(spec.name).toMatch(/^[a-z0-9-]+$/);
  });

  // Each invalid example sits next to exactly what `mailfleet validate` prints
  // for it (after the file name): change a message and this names the example to update.
  const invalidDir = join(specsDir, 'invalid');
  const invalid = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml'));
  it('every invalid example has its .expected.txt and nothing else lies there', () => {
    const expected = readdirSync(invalidDir).filter((f) => f.endsWith('.expected.txt'));
    expect(expected.map((f) => f.replace(/\.expected\.txt$/, '')).sort()).toEqual(invalid.map((f) => f.replace(/\.yaml$/, '')).sort());
    expect(readdirSync(invalidDir).filter((f) => !f.endsWith('.yaml') && !f.endsWith('.expected.txt'))).toEqual([]);
    // The findings of issue 8 each have an example.
    expect(invalid).toEqual(expect.arrayContaining(['long-name.yaml', 'cidr-host-bits.yaml', 'gateway-outside-subnet.yaml', 'failover-addresses.yaml', 'wrong-types.yaml']));
  });
  it.each(invalid)('%s is rejected with exactly its .expected.txt', (file) => {
    const problems = problemsOf(() => parseTopologySpec(load(join(invalidDir, file))));
    let message = '';
    try {
      parseTopologySpec(load(join(invalidDir, file)));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(`${message}\n`).toBe(readFileSync(join(invalidDir, file.replace(/\.yaml$/, '.expected.txt')), 'utf8'));
    // One line per field.
    expect(new Set(problems.map((p) => p.path)).size).toBe(problems.length);
  });
});

describe('defaults', () => {
  it('fills everything a small install can default', () => {
    const spec = parseClusterSpec({ name: 'demo', platform: { kind: 'local' }, domains: [{ name: 'Example.COM' }] });
    expect(spec.kind).toBe('cluster');
    expect(spec.environment).toBe('development');
    expect(spec.domains[0]).toEqual({ name: 'example.com', split: false, quota: { mailboxMiB: 2048, maxUsers: 100 } });
    expect([spec.hubs.count, spec.nodes.count, spec.gateways.count, spec.proxies.count]).toEqual([1, 2, 1, 1]);
    expect(spec.storage).toEqual({ kind: 'local-dir', path: 'storage', sizeGiB: 10 });
    expect(spec.loadBalancer.kind).toBe('external');
    expect(spec.tls).toEqual({ mode: 'self-signed', hostnames: [] });
    expect(spec.security.plaintextAuth).toBe('loopback');
    expect(spec.admin.public).toBe(false);
    expect(spec.gateway.relayNetworks).toEqual([]);
    expect(spec.platform).toEqual({ kind: 'local', dir: '.mailfleet', host: '127.0.0.1' });
  });

  it('defaults per platform: kubernetes gets a Service LB and no plaintext auth', () => {
    const spec = parseClusterSpec({
      name: 'k',
      platform: { kind: 'kubernetes' },
      storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 10 },
      domains: [{ name: 'example.com' }],
    });
    expect(spec.loadBalancer).toEqual({ kind: 'kubernetes-service', annotations: {} });
    expect(spec.security.plaintextAuth).toBe('never');
    expect(spec.platform).toMatchObject({ serviceType: 'LoadBalancer', spreadKeys: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'] });
  });

  it('docker defaults to a docker volume and an HAProxy pair', () => {
    const spec = parseClusterSpec({ name: 'd', platform: { kind: 'docker' }, domains: [{ name: 'example.com' }] });
    expect(spec.storage.kind).toBe('docker-volume');
    expect(spec.loadBalancer).toMatchObject({ kind: 'haproxy', replicas: 2 });
  });

  it('failover pair defaults to manual failover with a stopped standby', () => {
    const spec = parseFailoverPairSpec({
      kind: 'failover-pair',
      name: 'p',
      domains: [{ name: 'example.com' }],
      primary: { site: { name: 'a' }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 5 } },
      standby: { site: { name: 'b' }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 5 } },
    });
    expect(spec.failover).toMatchObject({ mode: 'manual', standbyState: 'stopped', probeIntervalSeconds: 10, failureThreshold: 6 });
    expect(spec.primary.member.count).toBe(1);
  });
});

describe('rejections', () => {
  const base = { name: 'demo', platform: { kind: 'local' }, domains: [{ name: 'example.com' }] };
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['unknown top-level key', { ...base, colour: 'blue' }, 'colour'],
    ['unknown nested key', { ...base, nodes: { count: 2, ram: 4 } }, 'nodes.ram'],
    ['unknown platform key', { ...base, platform: { kind: 'local', port: 1 } }, 'platform.port'],
    ['no domains', { ...base, domains: [] }, 'domains'],
    ['duplicate domain', { ...base, domains: [{ name: 'a.com' }, { name: 'A.com' }] }, 'domains[1].name'],
    ['public relay network is a CIDR check only here', { ...base, gateway: { relayNetworks: ['10.0.0.0/33'] } }, 'gateway.relayNetworks[0]'],
    ['cert-manager off kubernetes', { ...base, tls: { mode: 'cert-manager', issuer: 'x' } }, 'tls.mode'],
    ['bad TLS mode', { ...base, tls: { mode: 'acme' } }, 'tls.mode'],
    ['haproxy on local', { ...base, loadBalancer: { kind: 'haproxy' } }, 'loadBalancer.kind'],
    ['negative memory', { ...base, hubs: { memoryMiB: 64 } }, 'hubs.memoryMiB'],
    ['fractional count', { ...base, proxies: { count: 1.5 } }, 'proxies.count'],
    ['not a mapping', [] as unknown as Record<string, unknown>, '(top level)'],
    ['bad kind', { ...base, kind: 'mesh' }, 'kind'],
  ];
  it.each(cases)('%s → %s', (_label, input, path) => {
    const problems = problemsOf(() => parseTopologySpec(input));
    expect(problems.map((p) => p.path)).toContain(path);
  });

  it('reports every bad field at once, not only the first', () => {
    const problems = problemsOf(() =>
      parseClusterSpec({ name: 'X', platform: { kind: 'local' }, domains: [{ name: 'bad' }], hubs: { count: 0 }, environment: 'qa' }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(['domains[0].name', 'environment', 'hubs.count', 'name']);
  });

  it('caps hubs at the hub URLs a member carries (RuntimeConfig hubUrls, plus the Service on Kubernetes): 15 renders, 16 is refused naming hubs.count', () => {
    for (const platform of [{ kind: 'docker' }, { kind: 'kubernetes' }]) {
      const storage = platform.kind === 'kubernetes' ? { storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 100 } } : {};
      const spec = parseClusterSpec({ name: 'h', platform, domains: [{ name: 'example.com' }], hubs: { count: 15 }, ...storage });
      const hubUrls = renderRuntimeConfigs(spec).map((m) => m.config.hubUrls?.length ?? 1);
      expect(Math.max(...hubUrls), platform.kind).toBe(platform.kind === 'kubernetes' ? 16 : 15);
    }
    const problems = problemsOf(() => parseClusterSpec({ name: 'h', platform: { kind: 'docker' }, domains: [{ name: 'example.com' }], hubs: { count: 16 } }));
    expect(problems).toEqual([{ path: 'hubs.count', message: expect.stringMatching(/^at most 15: one hub is active/) }]);
  });

  it('says what is allowed', () => {
    const problems = problemsOf(() => parseClusterSpec({ name: 'demo', platform: { kind: 'local' }, domains: [{ name: 'a.com' }], environment: 'qa' }));
    expect(problems[0]!.message).toContain('production');
    const unknown = problemsOf(() => parseClusterSpec({ name: 'demo', platform: { kind: 'local' }, domains: [{ name: 'a.com' }], nodez: 1 }));
    expect(unknown[0]!.message).toMatch(/allowed here: .*nodes/);
  });

  it('client limits are checked as the runtime checks them, in plain words', () => {
    const problems = problemsOf(() =>
      parseClusterSpec({
        name: 'demo',
        platform: { kind: 'local' },
        domains: [{ name: 'a.com' }],
        limits: { maxConnectionsPerAddress: 0, perAddressExempt: ['10.0.0.0'], passwordCheckWorkers: 'cores', maxConnection: 10 },
      }),
    );
    expect(problems).toEqual([
      { path: 'limits.maxConnectionsPerAddress', message: expect.stringMatching(/at least 1/) },
      { path: 'limits.perAddressExempt[0]', message: 'must be a network in CIDR notation, e.g. 127.0.0.0/8 or ::1/128' },
      { path: 'limits.passwordCheckWorkers', message: 'must be auto or a whole number of workers, 1–64' },
      { path: 'limits.maxConnection', message: expect.stringMatching(/did you mean "maxConnections"/) },
    ]);
  });

  it('VM address plans must fit the subnet', () => {
    const problems = problemsOf(() =>
      parseClusterSpec({
        name: 'v',
        platform: {
          kind: 'proxmox',
          endpoint: 'https://pve:8006/',
          nodes: ['a'],
          templateVmId: 9000,
          network: { cidr: '10.0.0.0/26', gateway: '10.0.0.1', firstAddress: '10.0.0.10' },
        },
        storage: { kind: 'nfs', server: 'nfs', path: '/x', sizeGiB: 1 },
        nodes: { count: 10 },
        domains: [{ name: 'a.com' }],
      }),
    );
    expect(problems.map((p) => p.path)).toEqual(['platform.network.cidr']);
  });
});

describe('capacity', () => {
  it('plans users × quota', () => {
    const spec = parseClusterSpec({ name: 'c', platform: { kind: 'local' }, domains: [{ name: 'a.com', quota: { mailboxMiB: 1024, maxUsers: 10 } }, { name: 'b.com', quota: { mailboxMiB: 512, maxUsers: 4 } }] });
    expect(plannedMailGiB(spec.domains)).toBe(12);
  });
});
