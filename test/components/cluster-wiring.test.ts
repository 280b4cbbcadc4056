import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailHaproxyConfig } from '../../components/haproxy';
import { GUEST_PATHS, hubInternalNames, internalLeafNames, mxProxyProtocol, renderRuntimeConfigs, type RenderedMember } from '../../components/render';
import { parseClusterSpec, type ClusterSpec } from '../../components/spec';
import { RuntimeConfig } from '../../mail-runtime/config';
import { issueMemberCertificate } from '../../mail-runtime/hub/ca';
import { proxmoxSpec } from './platforms/proxmox/fixtures';
import { ADMIN_TOKEN, CLUSTER_TOKEN, spawnMember, waitFor, type SpawnedProcess } from '../helpers/hub';
import { freePort } from '../helpers/daemon';
import { makeCa, makeLeaf } from '../helpers/pki';

/**
 * What the components render is what the runtime reads (issue 12, Pulumi):
 * every hub's URL, the cluster token file, the cluster-internal CA, PROXY v2
 * between proxies and nodes and from the load balancer to the MX, and no
 * static placement. Then a rendered hub + node, moved onto loopback, start
 * and find each other over HTTPS checked against the cluster CA.
 */

const example = (name: string): ClusterSpec => parseClusterSpec(YAML.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'specs', name), 'utf8')));
const SPECS: [string, ClusterSpec][] = [
  ['local', example('local.yaml')],
  ['kubernetes', example('kubernetes-ha.yaml')],
  ['docker', example('docker-ha.yaml')],
  ['vsphere', example('vsphere-ha.yaml')],
  ['proxmox (2 hubs)', parseClusterSpec(proxmoxSpec(3))],
];
const of = (members: RenderedMember[], role: RenderedMember['role']) => members.filter((m) => m.role === role);

describe('rendered configs carry the cluster wiring the runtime reads', () => {
  it.each(SPECS)('%s: every member parses with the runtime schema and has the hub URLs, token, CA and PROXY v2 wiring', (_kind, spec) => {
    const members = renderRuntimeConfigs(spec);
    const local = spec.platform.kind === 'local';
    const hubUrls = of(members, 'hub').map((h) => `${local ? 'http' : 'https'}://${h.address}:${(h.config.listen as { http: { port: number } }).http.port}`);
    for (const m of members) {
      const c = RuntimeConfig.parse(m.config);
      expect(c.clusterTokenFile, m.memberId).toBeTruthy();
      // Every hub is reachable by the member: its own URL, or (one hub) the single hubUrl.
      const urls = c.hubUrls ?? [c.hubUrl!];
      if (hubUrls.length > 1) for (const u of hubUrls) expect(urls, m.memberId).toContain(u);
      else expect(urls.length, m.memberId).toBe(1);
      if (local) expect(c.clusterTls, m.memberId).toBeUndefined();
      else {
        expect(c.clusterTls?.caFile, m.memberId).toBe(GUEST_PATHS.clusterCa);
        // Hubs, nodes and gateways present a certificate from the internal CA (their role's, at the same path); proxies only dial out.
        expect(c.clusterTls?.certFile, m.memberId).toBe(m.role === 'proxy' ? undefined : GUEST_PATHS.clusterCert);
        expect(c.clusterTls?.keyFile, m.memberId).toBe(m.role === 'proxy' ? undefined : GUEST_PATHS.clusterKey);
      }
      // Local: off in the render (a node run by hand serves clients directly); `up --local` turns it on for loopback.
      if (c.role === 'node') expect(c.proxyProtocolFrom.length > 0, m.memberId).toBe(!local);
      if (c.role === 'proxy') expect(c.proxy.sendProxyProtocol, m.memberId).toBe(!local);
      // No static placement: the hub's map routes every mailbox.
      if (c.role === 'gateway') expect(c.placement, m.memberId).toEqual({ routes: {} });
    }
  });

  it('VMs: nodes trust exactly the proxies, gateways exactly the HAProxy VMs, which send PROXY v2 on the MX backend only', () => {
    const spec = parseClusterSpec(proxmoxSpec(3));
    const members = renderRuntimeConfigs(spec);
    const node = RuntimeConfig.parse(of(members, 'node')[0]!.config);
    const gateway = RuntimeConfig.parse(of(members, 'gateway')[0]!.config);
    if (node.role !== 'node' || gateway.role !== 'gateway') throw new Error('role');
    expect(node.proxyProtocolFrom).toEqual(of(members, 'proxy').map((p) => `${p.address}/32`));
    expect(node.proxyProtocolFrom).toEqual(['10.40.0.40/32', '10.40.0.41/32']);
    expect(gateway.proxyProtocolFrom).toEqual(['10.40.0.15/32', '10.40.0.16/32']);
    const plan = mailHaproxyConfig({ proxies: of(members, 'proxy'), gateways: of(members, 'gateway'), hubs: of(members, 'hub'), sendProxyV2: mxProxyProtocol(spec) });
    const sends = Object.fromEntries((plan.config.backends ?? []).map((b) => [b.name, b.sendProxyV2]));
    expect(sends).toMatchObject({ 'smtp-gateways': true, 'imap-proxies': false, 'submission-proxies': false });
    // An external load balancer: the gateways trust nobody to name a client.
    const external = parseClusterSpec(proxmoxSpec(3, { loadBalancer: { kind: 'external', address: '10.40.0.9' } }));
    const gw = RuntimeConfig.parse(of(renderRuntimeConfigs(external), 'gateway')[0]!.config);
    expect(gw.role === 'gateway' && gw.proxyProtocolFrom).toEqual([]);
    expect(mxProxyProtocol(external)).toEqual([]);
  });

  it('kubernetes: nodes take the header from any pod (their NetworkPolicy admits only proxies); the MX keeps the client address without one', () => {
    const members = renderRuntimeConfigs(example('kubernetes-ha.yaml'));
    const node = RuntimeConfig.parse(of(members, 'node')[0]!.config);
    const gateway = RuntimeConfig.parse(of(members, 'gateway')[0]!.config);
    expect(node.role === 'node' && node.proxyProtocolFrom).toEqual(['0.0.0.0/0', '::/0']);
    expect(gateway.role === 'gateway' && gateway.proxyProtocolFrom).toEqual([]);
    expect(hubInternalNames(example('kubernetes-ha.yaml'))).toContain('mail-prod-hub.mail-prod.svc.cluster.local');
  });

  it('docker with HAProxy: the gateways take the header from their network (they publish no ports), HAProxy sends it on the MX backend only', () => {
    const spec = example('docker-ha.yaml');
    const members = renderRuntimeConfigs(spec);
    const gateway = RuntimeConfig.parse(of(members, 'gateway')[0]!.config);
    expect(gateway.role === 'gateway' && gateway.proxyProtocolFrom).toEqual(['0.0.0.0/0', '::/0']);
    expect(mxProxyProtocol(spec)).toEqual(['smtp']);
    // An external load balancer on docker: nobody.
    const external = parseClusterSpec({ ...YAML.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'specs', 'docker-ha.yaml'), 'utf8')), loadBalancer: { kind: 'external', address: 'lb.example.net' } });
    const gw = RuntimeConfig.parse(of(renderRuntimeConfigs(external), 'gateway')[0]!.config);
    expect(gw.role === 'gateway' && gw.proxyProtocolFrom).toEqual([]);
    expect(mxProxyProtocol(external)).toEqual([]);
  });

  it.each(SPECS.filter(([k]) => k !== 'local'))('%s: the node and gateway certificates name every member id (what the proxy verifies and asks for by SNI) and address', (_kind, spec) => {
    const members = renderRuntimeConfigs(spec);
    for (const role of ['node', 'gateway'] as const) {
      const names = internalLeafNames(spec, role);
      for (const m of of(members, role)) {
        expect(names, m.memberId).toContain(m.memberId);
        expect(names, m.memberId).toContain(m.address);
      }
    }
    expect(internalLeafNames(spec, 'hub')).toEqual(hubInternalNames(spec));
  });
});

/**
 * A rendered hub and node (the proxmox spec with its VM network on
 * 127.0.0.0/8, so the rendered addresses are loopback ones) with only their
 * paths and ports moved into a scratch folder: the node reaches the hub at
 * the rendered https URL, verifying it against the cluster CA that names the
 * hubs' rendered addresses (what components/secrets.ts issues), and joins
 * the placement ring.
 */
describe('a rendered hub + node start and join over the cluster CA', () => {
  let dir: string;
  const running: SpawnedProcess[] = [];
  let hubUrl: string;
  let ca: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-wiring-'));
    const spec = parseClusterSpec(
      proxmoxSpec(1, {
        hubs: { count: 1 },
        platform: { ...(proxmoxSpec().platform as object), network: { cidr: '127.0.0.0/8', gateway: '127.0.0.1', firstAddress: '127.0.0.10', dns: ['127.0.0.53'] } } as never,
        storage: { kind: 'nfs', server: '127.0.0.5', path: '/export/mail', sizeGiB: 10 },
        loadBalancer: { kind: 'haproxy', replicas: 2, vip: '127.0.0.8' },
      }),
    );
    const members = renderRuntimeConfigs(spec);
    const hub = of(members, 'hub')[0]!;
    const node = of(members, 'node')[0]!;
    // Guest paths → the scratch folder; standard ports → free ones (the hub's URL follows its port).
    const hubPort = await freePort();
    const move = (m: RenderedMember): Record<string, unknown> => {
      let text = JSON.stringify(m.config).replaceAll('/etc/mailfleet', join(dir, 'etc')).replaceAll('/var/lib/mailfleet', join(dir, 'storage'));
      text = text.replaceAll(':443"', `:${hubPort}"`);
      const c = JSON.parse(text) as Record<string, unknown> & { listen: Record<string, { host: string; port: number }> };
      for (const l of Object.values(c.listen)) l.port = l.port === 443 ? hubPort : 0;
      (c.management as { port: number }).port = 0;
      return { ...c, logLevel: 'warn' };
    };
    const hubConfig = move(hub);
    const nodeConfig = move(node);
    hubUrl = (hubConfig.hubUrl as string) ?? '';
    expect(hubUrl).toBe(`https://127.0.0.10:${hubPort}`);

    // The PKI components/secrets.ts makes with the tls provider: a CA, the hubs' certificate naming hubInternalNames.
    const caPem = await makeCa('test cluster CA');
    // IP names go in as IP SANs, as the tls provider's ipAddresses do: the runtime's own issuer splits them the same way.
    const issued = await issueMemberCertificate({ certPem: caPem.cert, keyPem: caPem.key }, { memberId: 'mail-px-hub', names: hubInternalNames(spec) });
    const hubCert = { cert: issued.certPem, key: issued.keyPem };
    const publicCert = await makeLeaf(['mail.example.net']);
    ca = caPem.cert;
    const files: Record<string, string> = {
      [GUEST_PATHS.clusterCa]: caPem.cert,
      // The hubs hold the CA key: they sign each member's own certificate.
      [GUEST_PATHS.clusterCaKey]: caPem.key,
      [GUEST_PATHS.clusterCert]: hubCert.cert,
      [GUEST_PATHS.clusterKey]: hubCert.key,
      [GUEST_PATHS.tlsCert]: publicCert.cert,
      [GUEST_PATHS.tlsKey]: publicCert.key,
      [GUEST_PATHS.clusterToken]: CLUSTER_TOKEN,
      [GUEST_PATHS.adminToken]: ADMIN_TOKEN,
    };
    for (const [path, content] of Object.entries(files)) {
      const target = path.replace('/etc/mailfleet', join(dir, 'etc'));
      await mkdir(join(target, '..'), { recursive: true });
      await writeFile(target, `${content}\n`);
    }
    await mkdir(join(dir, 'storage'), { recursive: true });
    running.push(await spawnMember(join(dir, 'hub.json'), hubConfig));
    running.push(await spawnMember(join(dir, 'node.json'), nodeConfig));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('the node registers with the hub over HTTPS verified by the cluster CA and becomes an active placement node', async () => {
    const getPlacement = (withCa: boolean): Promise<{ nodes: { id: string; state: string }[] }> =>
      new Promise((resolve, reject) => {
        const req = get(`${hubUrl}/v1/placement`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, ...(withCa ? { ca } : {}), timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            try {
              resolve(JSON.parse(body) as { nodes: { id: string; state: string }[] });
            } catch (err) {
              reject(err as Error);
            }
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
      });
    await waitFor(async () => (await getPlacement(true)).nodes.some((n) => n.id === 'mail-px-node-0' && n.state === 'active'), 'the rendered node active on the hub', 60_000);
    // The hub's certificate is the internal one: without the cluster CA the same URL is refused.
    await expect(getPlacement(false)).rejects.toThrow(/certificate/);
  }, 90_000);

  it('the rendered hub has the CA key and signs the rendered node its own certificate (the node reports its expiry)', async () => {
    const node = running[1]!;
    const expiry = async (): Promise<number> => {
      const text = await fetch(`http://127.0.0.1:${Number(node.ready.healthPort)}/metrics`).then((r) => r.text());
      return Number(/mailfleet_cluster_member_certificate_expiry_timestamp_seconds\{[^}]*\} (\S+)/.exec(text)?.[1] ?? 0);
    };
    await waitFor(async () => (await expiry().catch(() => 0)) > 0, 'the node holds a hub-issued certificate', 60_000);
    // The default lifetime (memberCertificateSeconds: a day), not the role certificate's 397 days.
    expect((await expiry()) * 1000 - Date.now()).toBeLessThanOrEqual(86_400_000);
  }, 90_000);
});
