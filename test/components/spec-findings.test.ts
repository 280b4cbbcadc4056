import { describe, expect, it } from 'vitest';
import { kubernetesNamespace, renderRuntimeConfigs } from '../../components/render';
import { MAX_MEMBER_ID_LENGTH, MAX_NAME_LENGTH, MAX_ROLE_COUNT, SpecError, parseClusterSpec, parseTopologySpec } from '../../components/spec';
import { RuntimeConfigError, parseRuntimeConfig } from '../../mail-runtime/config';

/**
 * Issue 8, "What validate accepts, the preview accepts": each finding, and
 * each counterexample the property test (spec-property.test.ts) shrank to
 * before the spec checked it, as a table row with the exact problems the
 * user now gets — on the field they wrote, saying what is allowed.
 */

type Problems = { path: string; message: string }[];

function problemsOf(input: unknown): Problems {
  try {
    parseTopologySpec(input);
  } catch (err) {
    if (err instanceof SpecError) return [...err.problems];
    throw err;
  }
  throw new Error('the spec was accepted');
}

const nfs = { kind: 'nfs', server: 'nfs.example.net', path: '/export/mail', sizeGiB: 100 };
const proxmox = (network: Record<string, unknown>) => ({
  kind: 'proxmox',
  endpoint: 'https://pve1.example.net:8006/',
  nodes: ['pve1'],
  templateVmId: 9000,
  network,
});
const vsphere = (addresses: Record<string, unknown>) => ({
  kind: 'vsphere',
  server: 'vcenter.example.net',
  datacenter: 'dc1',
  cluster: 'compute',
  datastore: 'vsan',
  network: 'mail-pg',
  template: 'debian-12',
  addresses,
});
const domains = [{ name: 'example.com' }];

const findings: [string, unknown, Problems][] = [
  [
    'a 63-character name passed validate, then the preview failed on memberId',
    { name: 'mail-cluster-for-the-northern-european-datacentre-fleet-eu-nw12', platform: { kind: 'kubernetes' }, storage: nfs, domains },
    [{ path: 'name', message: 'at most 40 characters: member ids (<name>-gateway-999), host names and Kubernetes names are made from it' }],
  ],
  [
    'a CIDR with host bits placed nodes outside the subnet',
    { name: 'pve', platform: proxmox({ cidr: '10.0.0.200/24', gateway: '10.0.0.1', firstAddress: '10.0.0.20' }), storage: nfs, domains },
    [{ path: 'platform.network.cidr', message: 'has host bits set; the network is 10.0.0.0/24' }],
  ],
  [
    'a gateway in another subnet was accepted',
    { name: 'vs', platform: vsphere({ cidr: '10.40.0.0/23', gateway: '10.41.0.1', firstAddress: '10.40.0.10' }), storage: nfs, loadBalancer: { kind: 'external', address: 'mx.example.net' }, domains },
    [{ path: 'platform.addresses.gateway', message: '10.41.0.1 is not a host address in 10.40.0.0/23 (platform.addresses.cidr): the VMs could not reach it' }],
  ],
  [
    'failover-pair addresses were not checked at all',
    {
      kind: 'failover-pair',
      name: 'geo',
      domains,
      primary: { site: { name: 'ams1' }, platform: proxmox({ cidr: '10.10.0.0/24', gateway: '10.10.0.20', firstAddress: '10.10.0.20' }), storage: nfs },
      standby: { site: { name: 'fra1' }, platform: vsphere({ cidr: '10.20.0.0/24', gateway: '10.21.0.1', firstAddress: '10.20.0.255' }), storage: nfs },
    },
    [
      { path: 'primary.platform.network.gateway', message: '10.10.0.20 is also the address of geo-all-0; move firstAddress (10.10.0.20) so the VM blocks do not cover the gateway' },
      { path: 'standby.platform.addresses.gateway', message: '10.21.0.1 is not a host address in 10.20.0.0/24 (standby.platform.addresses.cidr): the VMs could not reach it' },
      { path: 'standby.platform.addresses.firstAddress', message: '10.20.0.255 is not a host address in 10.20.0.0/24 (standby.platform.addresses.cidr)' },
    ],
  ],
  [
    'a production standby on the local platform passed',
    {
      kind: 'failover-pair',
      name: 'geo',
      environment: 'production',
      domains,
      primary: { site: { name: 'ams1' }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 10 } },
      standby: { site: { name: 'fra1' }, platform: { kind: 'local' }, storage: { kind: 'local-dir' } },
    },
    [
      {
        path: 'standby.platform.kind',
        message: 'local runs every member as a child process on this one machine, which is not for production; use kubernetes, docker, proxmox or vsphere (or environment: development)',
      },
    ],
  ],
  [
    'a production cluster on the local platform',
    { name: 'demo', environment: 'production', platform: { kind: 'local' }, domains },
    [
      {
        path: 'platform.kind',
        message: 'local runs every member as a child process on this one machine, which is not for production; use kubernetes, docker, proxmox or vsphere (or environment: development)',
      },
    ],
  ],
  [
    'a failover site loadBalancer its platform cannot provide was not checked',
    {
      kind: 'failover-pair',
      name: 'geo',
      domains,
      primary: { site: { name: 'a' }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 10 }, loadBalancer: { kind: 'kubernetes-service' } },
      standby: { site: { name: 'b' }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 10 } },
    },
    [{ path: 'primary.loadBalancer.kind', message: '"kubernetes-service" is not available on docker; use one of haproxy, external' }],
  ],
  [
    'raw library text: wrong types, a float count, a missing field',
    { name: 'types', platform: { kind: 'local' }, nodes: { count: 1.5 }, gateways: { count: '2' }, admin: { public: 'yes' } },
    [
      { path: 'domains', message: 'required (a list)' },
      { path: 'admin.public', message: 'must be true or false (got "yes")' },
      { path: 'nodes.count', message: 'must be a whole number (got 1.5)' },
      { path: 'gateways.count', message: 'must be a number (got "2")' },
    ],
  ],
  [
    'raw library text: a platform that does not exist, and one not given',
    { name: 'x', platform: { kind: 'openstack' }, domains, storage: {} },
    [
      { path: 'platform.kind', message: 'must be one of kubernetes, docker, proxmox, vsphere, local (got "openstack")' },
      { path: 'storage.kind', message: 'required: one of nfs, pvc-rwx, docker-volume, local-dir' },
    ],
  ],
  [
    'duplicate lines: a malformed CIDR was reported twice',
    { name: 'x', platform: { kind: 'local' }, domains, gateway: { relayNetworks: ['10.0.0.0/33x', '10.0.0.0/40'] } },
    [
      { path: 'gateway.relayNetworks[0]', message: 'must be an IPv4 CIDR such as 10.20.0.0/24' },
      { path: 'gateway.relayNetworks[1]', message: 'octets must be 0–255 and the prefix 0–32' },
    ],
  ],
  [
    'a typo gets its correction',
    { name: 'x', platform: { kind: 'local' }, domains, nodes: { cont: 3 } },
    [{ path: 'nodes.cont', message: 'unknown field (did you mean "count"?); allowed here: count, cpu, memoryMiB, diskGiB' }],
  ],
  // Counterexamples the property test shrank to (each passed validate and failed the preview).
  [
    'shrunk: loadBalancerIP with a NodePort Service (kubernetes)',
    {
      name: 'a',
      domains,
      platform: { kind: 'kubernetes', serviceType: 'NodePort' },
      storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 50 },
      loadBalancer: { kind: 'kubernetes-service', loadBalancerIP: '192.0.2.10' },
    },
    [{ path: 'loadBalancer.loadBalancerIP', message: 'only applies to platform.serviceType LoadBalancer (got NodePort)' }],
  ],
  [
    'shrunk: the same Docker host twice',
    { name: 'a', domains, platform: { kind: 'docker', hosts: ['ssh://deploy@d1.example.net', 'ssh://deploy@d1.example.net'] } },
    [{ path: 'platform.hosts[1]', message: 'Docker host "ssh://deploy@d1.example.net" is listed twice' }],
  ],
  [
    'shrunk: the first hub on the gateway address (proxmox)',
    { name: '1mail', domains, platform: proxmox({ cidr: '10.0.0.0/22', gateway: '10.0.0.1', firstAddress: '10.0.0.1' }), storage: nfs },
    [{ path: 'platform.network.gateway', message: '10.0.0.1 is also the address of 1mail-hub-0; move firstAddress (10.0.0.1) so the VM blocks do not cover the gateway' }],
  ],
  [
    'shrunk: the default vsphere load balancer needs a VIP',
    { name: 'a', domains, platform: vsphere({ cidr: '10.82.92.0/22', gateway: '10.82.92.1', firstAddress: '10.82.92.20' }), storage: nfs },
    [
      {
        path: 'loadBalancer.vip',
        message: 'required on vsphere, whose default load balancer is 2 HAProxy VMs: keepalived moves the VIP between them and clients use it (or set loadBalancer.kind: external)',
      },
    ],
  ],
  [
    'shrunk: a search domain too long for <member id>.<searchDomain>',
    {
      name: 'a',
      domains,
      platform: vsphere({ cidr: '10.82.92.0/22', gateway: '10.82.92.1', firstAddress: '10.82.92.20', searchDomain: `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.example.net` }),
      storage: nfs,
      loadBalancer: { kind: 'external', address: 'mx.example.net' },
    },
    [{ path: 'platform.addresses.searchDomain', message: 'at most 200 characters: guests are named <member id>.<searchDomain>, at most 253 (RFC 1035 §2.3.4)' }],
  ],
];

describe('issue 8 findings: rejected by validate, on the field written, in plain words', () => {
  it.each(findings)('%s', (_finding, input, expected) => {
    expect(problemsOf(input)).toEqual(expected);
  });
});

describe('derived names fit for the largest count the spec allows', () => {
  it(`a ${MAX_NAME_LENGTH}-character name with ${MAX_ROLE_COUNT} gateways renders: the longest member id is a DNS label`, () => {
    const name = `m${'a'.repeat(MAX_NAME_LENGTH - 1)}`;
    const spec = parseClusterSpec({ name, platform: { kind: 'local' }, domains, gateways: { count: MAX_ROLE_COUNT } });
    const ids = renderRuntimeConfigs(spec).map((m) => m.memberId);
    expect(ids.at(-2)).toBe(`${name}-gateway-${MAX_ROLE_COUNT - 1}`);
    expect(Math.max(...ids.map((id) => id.length))).toBe(MAX_MEMBER_ID_LENGTH);
    expect(MAX_MEMBER_ID_LENGTH).toBeLessThanOrEqual(63);
  });

  it('the default Kubernetes namespace and the StatefulSet names of the longest name stay within their limits', () => {
    const name = `m${'a'.repeat(MAX_NAME_LENGTH - 1)}`;
    const spec = parseClusterSpec({ name, platform: { kind: 'kubernetes' }, storage: nfs, domains });
    expect(kubernetesNamespace(spec).length).toBeLessThanOrEqual(63);
    // controller-revision-hash: `<set name>-<10 characters>` is a label value (at most 63).
    expect(`${name}-node-0123456789`.length).toBeLessThanOrEqual(63);
  });

  it('one character more is rejected on name, whatever the platform', () => {
    for (const platform of [{ kind: 'local' }, { kind: 'docker' }]) {
      expect(problemsOf({ name: `m${'a'.repeat(MAX_NAME_LENGTH)}`, platform, domains }).map((p) => p.path)).toEqual(['name']);
    }
  });
});

describe('the runtime config boundary shares the plain messages (problemsFromZod)', () => {
  it('wrong types, a missing field and a typo in a member config', () => {
    let problems: readonly { path: string; message: string }[] = [];
    try {
      parseRuntimeConfig(
        { role: 'node', memberId: 'n', cluster: 'c', management: { port: 1.5 }, storage: {}, listen: { imap: { port: '143' }, pop3: { port: 110 }, lmtp: { port: 24 } }, limts: {} },
        'node config',
      );
    } catch (err) {
      expect(err).toBeInstanceOf(RuntimeConfigError);
      problems = (err as RuntimeConfigError).problems;
    }
    expect(problems).toEqual([
      { path: 'management.port', message: 'must be a whole number' },
      { path: 'storage.path', message: 'required (text)' },
      { path: 'listen.imap.port', message: 'must be a number (got text)' },
      // The allowed keys are the runtime schema's own (mail-runtime/config/schema.ts).
      { path: 'limts', message: expect.stringMatching(/^unknown field \(did you mean "limits"\?\); allowed here: role, .*limits/) },
    ]);
  });
});
