import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { LOCAL_PORTS, renderRuntimeConfigs } from '../../components/render';
import { parseClusterSpec, parseTopologySpec } from '../../components/spec';
import { RuntimeConfig } from '../../mail-runtime/config';

const example = (name: string) => parseTopologySpec(YAML.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'specs', name), 'utf8')));

function allPorts(configs: ReturnType<typeof renderRuntimeConfigs>): number[] {
  return configs.flatMap((m) => [m.config.management.port, ...Object.values(m.config.listen).filter(Boolean).map((l) => l!.port)]);
}

describe('renderRuntimeConfigs', () => {
  it('renders the local default with the DESIGN.md ports', () => {
    const members = renderRuntimeConfigs(example('local.yaml'));
    expect(members.map((m) => m.memberId)).toEqual(['demo-hub-0', 'demo-node-0', 'demo-node-1', 'demo-gateway-0', 'demo-proxy-0']);
    const byId = Object.fromEntries(members.map((m) => [m.memberId, m.config]));
    expect(byId['demo-hub-0']!.listen).toEqual({ http: { host: '127.0.0.1', port: 2580 } });
    const gateway = byId['demo-gateway-0']!;
    if (gateway.role !== 'gateway') throw new Error('role');
    expect(gateway.listen.smtp).toEqual({ host: '127.0.0.1', port: 2525 });
    // The relay listener (cluster members only) gets a dynamic port; both nodes relay through it.
    expect(gateway.listen.relay?.port).toBeGreaterThanOrEqual(LOCAL_PORTS.firstDynamic);
    for (const id of ['demo-node-0', 'demo-node-1']) {
      const n = byId[id]!;
      if (n.role !== 'node') throw new Error('role');
      expect(n.gatewayRelay, id).toBe(`127.0.0.1:${gateway.listen.relay!.port}`);
      expect(n.clusterTokenFile, id).toBe(gateway.clusterTokenFile);
    }
    expect(byId['demo-proxy-0']!.listen).toMatchObject({ imap: { port: 2143 }, imaps: { port: 2993 }, pop3: { port: 2110 }, submission: { port: 2587 }, smtps: { port: 2465 } });
    // Nodes get ports from 2600 up.
    const node = byId['demo-node-0']!;
    if (node.role !== 'node') throw new Error('role');
    expect(node.listen.imap.port).toBeGreaterThanOrEqual(LOCAL_PORTS.firstDynamic);
    expect(node.storage.path).toBe('.mailfleet/storage');
    expect(node.hubUrl).toBe('http://127.0.0.1:2580');
  });

  it.each([1, 2, 5, 40])('local ports never collide with %i nodes and several gateways/proxies', (nodes) => {
    const spec = parseClusterSpec({ name: 'big', platform: { kind: 'local' }, domains: [{ name: 'a.com' }], nodes: { count: nodes }, gateways: { count: 3 }, proxies: { count: 3 }, hubs: { count: 2 } });
    const members = renderRuntimeConfigs(spec);
    const ids = members.map((m) => m.memberId);
    expect(new Set(ids).size).toBe(ids.length);
    const ports = allPorts(members);
    expect(new Set(ports).size).toBe(ports.length);
    expect(members).toHaveLength(2 + nodes + 3 + 3);
  });

  it.each(['local.yaml', 'kubernetes-ha.yaml', 'docker-ha.yaml', 'vsphere-ha.yaml', 'proxmox-failover.yaml'])('%s: every config is a valid RuntimeConfig', (file) => {
    const members = renderRuntimeConfigs(example(file));
    expect(members.length).toBeGreaterThan(0);
    for (const m of members) {
      expect(RuntimeConfig.safeParse(m.config).success).toBe(true);
      expect(m.memberId).toBe(m.config.memberId);
      expect(m.memberId).toMatch(new RegExp(`^${m.config.cluster}-${m.role}-${m.index}$`));
    }
  });

  it('kubernetes members use stable service DNS names and standard ports', () => {
    const members = renderRuntimeConfigs(example('kubernetes-ha.yaml'));
    const node1 = members.find((m) => m.memberId === 'mail-prod-node-1')!;
    expect(node1.address).toBe('mail-prod-node-1.mail-prod-node.mail-prod.svc.cluster.local');
    expect(node1.config.hubUrl).toBe('https://mail-prod-hub.mail-prod.svc.cluster.local:443');
    expect(node1.config.plaintextAuth).toBe('never');
    if (node1.config.role !== 'node') throw new Error('role');
    expect(node1.config.listen.imap).toEqual({ host: '0.0.0.0', port: 143 });
    expect(node1.config.tls).toEqual({ certFile: '/etc/mailfleet/tls/tls.crt', keyFile: '/etc/mailfleet/tls/tls.key', generateIfMissing: false });
  });

  it('gateways carry hosted domains and filters; secrets are files, never values', () => {
    const gw = renderRuntimeConfigs(example('kubernetes-ha.yaml')).find((m) => m.role === 'gateway')!.config;
    if (gw.role !== 'gateway') throw new Error('role');
    expect(gw.hostedDomains).toEqual(['example.com', 'example.org']);
    // The example deploys clamd and rspamd beside the gateways: their Services (appliances.test.ts covers the rest).
    expect(gw.filters.clamd).toEqual({ address: 'mail-prod-clamd-0.mail-prod.svc.cluster.local:3310', onError: 'tempfail', timeoutMs: 60000, streamMaxBytes: 26214400 });
    expect(gw.filters.spam?.address).toBe('mail-prod-rspamd-0.mail-prod.svc.cluster.local:11333');
    expect(gw.filters.dkim).toEqual({ selector: 'mail2026', keyFile: '/etc/mailfleet/secrets/dkim.key' });
    // Values, not field names: `limits.passwordCheckWorkers` is a number.
    const values = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(values) : []);
    expect(values(gw).join('\n')).not.toMatch(/PRIVATE KEY|password/i);
  });

  it('spec limits reach every member, of a cluster and of a failover pair; the rest keep the runtime defaults', () => {
    const limits = { maxConnectionsPerAddress: 20, perAddressExempt: ['10.0.0.0/8'], loginTimeoutSeconds: 20, passwordCheckWorkers: 4 };
    const cluster = parseClusterSpec({ name: 'lim', platform: { kind: 'local' }, domains: [{ name: 'a.com' }], gateway: { maxMessageBytes: 2048 }, limits });
    const pair = parseTopologySpec({ ...YAML.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'specs', 'proxmox-failover.yaml'), 'utf8')), limits });
    for (const m of [...renderRuntimeConfigs(cluster), ...renderRuntimeConfigs(pair)]) {
      expect(m.config.limits, m.memberId).toMatchObject({ ...limits, loginFailuresPerConnection: 3, maxConnections: 5000 });
    }
    expect(renderRuntimeConfigs(cluster)[0]!.config.limits.maxMessageBytes).toBe(2048);
    // Nothing set: the runtime's defaults, decided once in its schema.
    const plain = renderRuntimeConfigs(example('local.yaml'))[0]!.config.limits;
    expect(plain).toMatchObject({ maxConnectionsPerAddress: 100, perAddressExempt: ['127.0.0.0/8', '::1/128'], loginTimeoutSeconds: 30, passwordCheckWorkers: 'auto' });
  });

  it('VM addresses stay put when nodes scale 3 → 4', () => {
    const spec3 = example('vsphere-ha.yaml');
    if (spec3.kind !== 'cluster') throw new Error('kind');
    const spec4 = { ...spec3, nodes: { ...spec3.nodes, count: 4 } };
    const a = Object.fromEntries(renderRuntimeConfigs(spec3).map((m) => [m.memberId, m.address]));
    const b = Object.fromEntries(renderRuntimeConfigs(spec4).map((m) => [m.memberId, m.address]));
    for (const [id, address] of Object.entries(a)) expect(b[id]).toBe(address);
    expect(b['mail-vs-node-3']).toBe('10.40.0.63');
    expect(new Set(Object.values(b)).size).toBe(Object.keys(b).length);
  });

  it('failover pair: one all-roles member per site, the standby probes the primary', () => {
    const members = renderRuntimeConfigs(example('proxmox-failover.yaml'));
    expect(members.map((m) => [m.memberId, m.site])).toEqual([
      ['mail-geo-all-0', 'ams1'],
      ['mail-geo-all-1', 'fra1'],
    ]);
    const standby = members[1]!.config;
    if (standby.role !== 'all') throw new Error('role');
    expect(standby.failover).toMatchObject({ standby: true, mode: 'automatic', peerUrl: 'https://10.10.0.20:443' });
    expect(members[0]!.config.role === 'all' && members[0]!.config.failover).toBeFalsy();
  });
});
