import fc from 'fast-check';

/**
 * Topology spec inputs as a user might write them, for the property tests in
 * spec-property.test.ts: every platform and both topologies, mostly valid
 * values with the edges that broke previews before (long names, CIDRs with
 * host bits, gateways and VIPs outside the subnet or on a VM's address,
 * blocks that overflow, duplicate hosts, label keys Kubernetes rejects,
 * failover sites on any platform). Biased towards valid values, so a good
 * share of the specs is accepted and must then render and preview.
 */

export interface SpecShape {
  /** Upper end of role counts: small for Pulumi previews (slow), large for rendering alone. */
  bigCounts: boolean;
}

type Json = Record<string, unknown>;

/** Mostly `valid`, now and then one of `edges` (a spec has many fields: rare edges keep most specs valid). */
const mostly = <T, E = never>(valid: fc.Arbitrary<T>, ...edges: E[]): fc.Arbitrary<T | E> =>
  edges.length === 0 ? valid : fc.oneof({ arbitrary: valid, weight: 15 }, { arbitrary: fc.constantFrom(...edges), weight: 1 });

/** `valid` or one of `edges` about as often: for the fields these tests are about (addresses, names). */
const often = <T, E = never>(valid: fc.Arbitrary<T>, ...edges: E[]): fc.Arbitrary<T | E> =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: fc.constantFrom(...edges), weight: 1 });

/** Drops undefined fields, as a YAML document would simply not have them. */
const compact = (o: Json): Json => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const ip = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

const name = often(
  fc.stringMatching(/^[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6})?$/),
  '1mail',
  `m${'a'.repeat(39)}`, // the longest name
  `m${'a'.repeat(40)}`, // one too long
  `mail-cluster-for-the-northern-european-datacentre-fleet-eu-nw12`, // 63: a DNS label, too long for member ids
);

const count = (shape: SpecShape) =>
  shape.bigCounts
    ? fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 3 }, { arbitrary: fc.constantFrom(5, 6, 20, 21, 40, 41, 100, 141, 1000), weight: 2 })
    : fc.integer({ min: 1, max: 3 });

const roleSize = (shape: SpecShape) => fc.option(fc.record({ count: count(shape) }), { nil: undefined });

/** Hubs: at most MAX_HUBS (15), so the big counts are that edge and one past it. */
const hubCount = (shape: SpecShape) =>
  shape.bigCounts ? fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 3 }, { arbitrary: fc.constantFrom(5, 15, 16), weight: 2 }) : fc.integer({ min: 1, max: 3 });
const hubSize = (shape: SpecShape) => fc.option(fc.record({ count: hubCount(shape) }), { nil: undefined });

const domains = mostly(
  fc.constantFrom([{ name: 'example.com' }], [{ name: 'example.com' }, { name: 'example.org', split: true }]),
  [{ name: 'a.example' }, { name: 'A.example' }],
);

const tls = (kubernetes: boolean) =>
  fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 15 },
    { arbitrary: fc.constant({ mode: 'provided', certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }), weight: 5 },
    { arbitrary: mostly(fc.constant({ mode: 'cert-manager', issuer: 'letsencrypt-prod' }), { mode: 'cert-manager', issuer: 'Bad_Issuer' }), weight: kubernetes ? 10 : 1 },
  );

/**
 * Scanners: the operator's own (an address) or deployed beside the gateways
 * (deploy: true, with every signature source, an operator image, rspamd
 * offline); now and then what the spec must refuse: no address, deploy and
 * an address, a mirror without its URL, deploy-only fields without deploy,
 * deploying spamd.
 */
const signatureUpdates = fc.option(
  fc.constantFrom({ mode: 'freshclam' }, { mode: 'mirror', mirror: 'https://clamav-mirror.example.net/' }, { mode: 'mirror', mirror: 'http://10.9.0.4:8080/clamav/' }, { mode: 'none' }),
  { nil: undefined },
);
const antivirus = mostly(
  fc.oneof(
    fc.constant({ kind: 'clamd', address: '10.0.0.5:3310' }),
    fc
      .record({
        kind: fc.constant('clamd'),
        deploy: fc.constant(true),
        onError: fc.option(fc.constantFrom('tempfail', 'accept'), { nil: undefined }),
        updates: signatureUpdates,
        image: fc.option(fc.constant('registry.example.net/clamav/clamav:1.4.3'), { nil: undefined }),
      })
      .map(compact),
  ),
  { kind: 'clamd' },
  { kind: 'clamd', deploy: true, address: '10.0.0.5:3310' },
  { kind: 'clamd', deploy: true, updates: { mode: 'mirror' } },
  { kind: 'clamd', address: '10.0.0.5:3310', updates: { mode: 'none' } },
);
const spam = mostly(
  fc.oneof(
    fc.constantFrom({ kind: 'rspamd', address: 'rspamd.example.net:11333' }, { kind: 'spamd', address: '10.0.0.6:783' }),
    fc.record({ kind: fc.constant('rspamd'), deploy: fc.constant(true), offline: fc.option(fc.boolean(), { nil: undefined }) }).map(compact),
  ),
  { kind: 'spamd', deploy: true },
  { kind: 'rspamd', address: 'rspamd.example.net:11333', offline: true },
);
const filters = fc.option(
  fc.record(
    {
      dkim: fc.constant({ selector: 'mf1' }),
      antivirus,
      spam,
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const gateway = fc.option(
  fc.record({ relayNetworks: mostly(fc.constantFrom([], ['10.0.0.0/8', '192.168.0.0/16']), ['10.0.0.1/24']) }),
  { nil: undefined },
);

const admin = fc.option(fc.record({ public: fc.boolean(), allowedCidrs: mostly(fc.constantFrom([], ['10.0.0.0/8']), ['10.1.2.3/16']) }), { nil: undefined });

const runtime = fc.option(
  fc.record({ image: mostly(fc.constant('ghcr.io/acme/mailfleet:0.1.0'), 'ghcr.io/acme/mail fleet'), build: fc.boolean(), nodeMajor: fc.constantFrom(20, 22, 24) }, { requiredKeys: [] }),
  { nil: undefined },
);

const security = fc.option(fc.record({ plaintextAuth: fc.constantFrom('never', 'loopback', 'always') }), { nil: undefined });

const sites = fc.option(mostly(fc.constantFrom([{ name: 'main' }], [{ name: 'ams1', location: 'Amsterdam' }, { name: 'ams2' }]), [{ name: 'a' }, { name: 'a' }]), { nil: undefined });

// Platforms ------------------------------------------------------------------

const kubernetes = fc.record(
  {
    kind: fc.constant('kubernetes'),
    namespace: fc.option(mostly(fc.constantFrom('mail', 'mail-prod')), { nil: undefined }),
    context: fc.option(fc.constant('prod-cluster'), { nil: undefined }),
    serviceType: fc.option(fc.constantFrom('LoadBalancer', 'NodePort'), { nil: undefined }),
    spreadKeys: fc.option(
      mostly(
        fc.constantFrom(['kubernetes.io/hostname'], ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']),
        ['kubernetes.io/hostname', 'kubernetes.io/hostname'],
        ['not a key'],
      ),
      { nil: undefined },
    ),
    labels: fc.option(mostly(fc.constantFrom({}, { team: 'mail' }), { 'app.kubernetes.io/name': 'x' }, { 'bad key!': 'y' }, { env: 'has spaces' }), { nil: undefined }),
  },
  { requiredKeys: ['kind'] },
);

const dockerHosts = mostly(
  fc.constantFrom(['unix:///var/run/docker.sock'], ['ssh://deploy@d1.example.net', 'tcp://d2.example.net:2376']),
  ['ssh://deploy@d1.example.net', 'ssh://deploy@d1.example.net'],
  ['d3.example.net'],
  ['ssh://a', 'ssh://b', 'ssh://c', 'ssh://d', 'ssh://e', 'ssh://f', 'ssh://g', 'ssh://h', 'ssh://i'],
);

const docker = fc.record(
  {
    kind: fc.constant('docker'),
    hosts: fc.option(dockerHosts, { nil: undefined }),
    network: fc.option(fc.constant('mailnet'), { nil: undefined }),
    publishOffset: fc.option(fc.constantFrom(0, 10000), { nil: undefined }),
  },
  { requiredKeys: ['kind'] },
);

/**
 * A VM subnet with its gateway and first address. Offsets are relative to the
 * network address: a sound plan most of the time, else one thing wrong — host
 * bits in the CIDR, a prefix out of range, the gateway outside the subnet or
 * on a VM's address, the first address on the network/broadcast address.
 */
const planEdge = fc.constantFrom(
  { hostBits: 200 },
  { prefix: 7 },
  { prefix: 28 },
  { prefix: 30 },
  { gateway: 0 },
  { gateway: 60 },
  { gateway: 255 },
  { gateway: 300 },
  { gateway: 2000 },
  { first: 0 },
  { first: 1 },
  { first: 255 },
  { first: 1023 },
);
const vmNetwork = fc
  .record({
    second: fc.integer({ min: 0, max: 255 }),
    third: fc.integer({ min: 0, max: 255 }),
    prefix: fc.integer({ min: 22, max: 26 }),
    first: fc.constantFrom(10, 20),
    edge: fc.option(planEdge, { freq: 2, nil: undefined }),
    searchDomain: fc.option(mostly(fc.constant('example.net'), `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.example.net`), { nil: undefined }),
  })
  .map(({ edge, ...plan }) => {
    const n = { hostBits: 0, gateway: 1, ...plan, ...edge };
    const size = 2 ** (32 - n.prefix);
    const start = 10 * 2 ** 24 + n.second * 2 ** 16 + n.third * 2 ** 8;
    const base = start - (start % size);
    return {
      base,
      network: compact({
        cidr: `${ip(base + (n.hostBits % size))}/${n.prefix}`,
        gateway: ip(base + n.gateway),
        firstAddress: ip(base + n.first),
        searchDomain: n.searchDomain,
      }),
    };
  });

const proxmoxFields = fc.record({
  nodes: mostly(fc.constantFrom(['pve1'], ['pve1', 'pve2', 'pve3']), ['pve1', 'pve2', 'pve1']),
  templateVmId: mostly(fc.constant(9000), 4000, 4050),
  firstVmId: fc.option(mostly(fc.constant(4000), 999_999_000), { nil: undefined }),
  haGroup: fc.option(mostly(fc.constant('mail-ha'), '9bad'), { nil: undefined }),
});

/** A VM platform with its subnet's network address (to place a VIP relative to it). */
function vmPlatform(kind: 'proxmox' | 'vsphere'): fc.Arbitrary<{ base: number; platform: Json }> {
  if (kind === 'proxmox') {
    return fc.tuple(vmNetwork, proxmoxFields).map(([net, f]) => ({
      base: net.base,
      platform: compact({ kind: 'proxmox', endpoint: 'https://pve1.example.net:8006/', ...f, network: net.network }),
    }));
  }
  return vmNetwork.map((net) => ({
    base: net.base,
    platform: {
      kind: 'vsphere',
      server: 'vcenter.example.net',
      datacenter: 'dc1',
      cluster: 'compute',
      datastore: 'vsan',
      network: 'mail-pg',
      template: 'debian-12',
      addresses: net.network,
    },
  }));
}

const local = fc.record(
  { kind: fc.constant('local'), dir: fc.option(fc.constant('/tmp/mailfleet-prop'), { nil: undefined }), host: fc.option(mostly(fc.constantFrom('127.0.0.1', 'localhost'), 'bad host', '::1', 'host.123'), { nil: undefined }) },
  { requiredKeys: ['kind'] },
);

// Storage and load balancer per platform (sometimes one another platform's) ----

const nfs = fc.constant({ kind: 'nfs', server: 'nfs.example.net', path: '/export/mail', sizeGiB: 100 });
const storageFor = (kind: string): fc.Arbitrary<Json | undefined> => {
  switch (kind) {
    case 'kubernetes':
      return mostly(fc.oneof(fc.constantFrom({ kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 50 }), nfs), { kind: 'pvc-rwx', storageClass: 'Bad_Class', sizeGiB: 50 }, undefined);
    case 'docker':
      return mostly(
        fc.constantFrom(undefined, { kind: 'docker-volume', sizeGiB: 20, nfs: { server: '10.0.0.5', path: '/export/mail' } }, { kind: 'docker-volume', sizeGiB: 20 }),
        { kind: 'nfs', server: 'nfs.example.net', path: '/export/mail', sizeGiB: 10 },
        { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 1 },
      );
    case 'local':
      return mostly(fc.constantFrom(undefined, { kind: 'local-dir' }), { kind: 'nfs', server: 'n', path: '/x', sizeGiB: 1 });
    default:
      return mostly(nfs, { kind: 'nfs', server: 'nfs.example.net', path: '/export/my mail', sizeGiB: 100 }, undefined);
  }
};

const haproxy = (vip: fc.Arbitrary<string | undefined>) =>
  fc.record({ kind: fc.constant('haproxy'), replicas: mostly(fc.integer({ min: 1, max: 3 }), 5, 6), vip }).map(compact);
const external = fc.constant({ kind: 'external', address: 'mx.example.net' });

const loadBalancerFor = (kind: string, base = 0): fc.Arbitrary<Json | undefined> => {
  switch (kind) {
    case 'kubernetes':
      return fc.option(
        mostly(
          fc.oneof(external, fc.record({ kind: fc.constant('kubernetes-service'), loadBalancerIP: fc.option(fc.constant('192.0.2.10'), { nil: undefined }) }).map(compact)),
          { kind: 'kubernetes-service', annotations: { 'bad/': 'x' } },
          { kind: 'haproxy' },
        ),
        { nil: undefined },
      );
    case 'docker':
      return fc.option(fc.oneof({ arbitrary: haproxy(fc.constant(undefined)), weight: 3 }, { arbitrary: external, weight: 1 }, { arbitrary: haproxy(fc.constant('10.0.0.8')), weight: 1 }), { nil: undefined });
    case 'local':
      return fc.option(mostly(external, { kind: 'haproxy' }), { nil: undefined });
    default: {
      // A VIP at an offset of the subnet: mostly a free address next to the load-balancer block,
      // sometimes the network address, a VM's address or outside the subnet.
      const vip = often(fc.constantFrom(8, 9), 0, 10, 15, 60, 70000).map((o) => ip(base + o));
      const pair = fc.record({ kind: fc.constant('haproxy'), replicas: mostly(fc.integer({ min: 2, max: 3 }), 5, 6), vip: fc.option(vip, { freq: 8, nil: undefined }) }).map(compact);
      const single = fc.record({ kind: fc.constant('haproxy'), replicas: fc.constant(1), vip: fc.option(vip, { freq: 1, nil: undefined }) }).map(compact);
      return fc.option(fc.oneof({ arbitrary: pair, weight: 3 }, { arbitrary: single, weight: 1 }, { arbitrary: external, weight: 1 }), { nil: undefined });
    }
  }
};

type Placed = { platform: Json; storage?: Json; loadBalancer?: Json; tls?: Json };

/** Platforms by kind, each with storage, load balancer and TLS for it (now and then another platform's). */
export const PLATFORMS: Record<'kubernetes' | 'docker' | 'proxmox' | 'vsphere' | 'local', fc.Arbitrary<Placed>> = {
  kubernetes: kubernetes.chain((platform) => fc.record({ platform: fc.constant(platform as Json), storage: storageFor('kubernetes'), loadBalancer: loadBalancerFor('kubernetes'), tls: tls(true) })),
  docker: docker.chain((platform) => fc.record({ platform: fc.constant(platform as Json), storage: storageFor('docker'), loadBalancer: loadBalancerFor('docker'), tls: tls(false) })),
  proxmox: vmPlatform('proxmox').chain(({ base, platform }) =>
    fc.record({ platform: fc.constant(platform), storage: storageFor('vm'), loadBalancer: loadBalancerFor('vm', base), tls: tls(false) }),
  ),
  vsphere: vmPlatform('vsphere').chain(({ base, platform }) =>
    fc.record({ platform: fc.constant(platform), storage: storageFor('vm'), loadBalancer: loadBalancerFor('vm', base), tls: tls(false) }),
  ),
  local: local.chain((platform) => fc.record({ platform: fc.constant(platform as Json), storage: storageFor('local'), loadBalancer: loadBalancerFor('local'), tls: tls(false) })),
};
const placed = fc.oneof(...Object.values(PLATFORMS));

const common = {
  name,
  environment: fc.option(fc.constantFrom('production', 'staging', 'development'), { nil: undefined }),
  domains,
  filters,
  gateway,
  admin,
  runtime,
  security,
};

/** A cluster spec input on any platform. */
export function clusterInput(shape: SpecShape, platforms: fc.Arbitrary<Placed> = placed): fc.Arbitrary<Json> {
  return fc
    .record({
      ...common,
      placed: platforms,
      sites,
      hubs: hubSize(shape),
      nodes: roleSize(shape),
      gateways: roleSize(shape),
      proxies: roleSize(shape),
    })
    .map(({ placed: p, ...rest }) => compact({ ...rest, ...p }));
}

const site = fc.record({
  name: mostly(fc.constantFrom('ams1', 'fra1', 'lon1')),
  placed,
  memberCount: mostly(fc.constant(undefined as number | undefined), 2),
});

/** A failover pair spec input: each site on any platform. */
export function failoverPairInput(): fc.Arbitrary<Json> {
  return fc
    .record({
      ...common,
      primary: site,
      standby: site,
      failover: fc.option(
        fc.record({ mode: fc.constantFrom('automatic', 'manual'), fencing: fc.option(fc.constant({ storageLease: true, powerOff: true }), { nil: undefined }) }).map(compact),
        { nil: undefined },
      ),
    })
    .map(({ primary, standby, ...rest }) => {
      const side = (s: typeof primary) =>
        compact({
          site: { name: s.name },
          platform: s.placed.platform,
          storage: s.placed.storage ?? { kind: 'nfs', server: 'nfs.example.net', path: '/export/mail', sizeGiB: 10 },
          loadBalancer: s.placed.loadBalancer,
          member: s.memberCount === undefined ? undefined : { count: s.memberCount },
        });
      // The pair's TLS is one for both sites: take the primary's choice.
      return compact({ kind: 'failover-pair', ...rest, tls: primary.placed.tls, primary: side(primary), standby: side(standby) });
    });
}

/** Either topology. */
export const topologyInput = (shape: SpecShape) => fc.oneof({ arbitrary: clusterInput(shape), weight: 3 }, { arbitrary: failoverPairInput(), weight: 1 });
