import { describe, expect, it } from 'vitest';
import { APPLIANCE_PORTS, renderAppliances, renderRuntimeConfigs } from '../../components/render';
import { SpecError, VM_ADDRESS_BLOCKS, VM_ADDRESS_BLOCK_SIZE, parseClusterSpec, parseTopologySpec, type ClusterSpecInput } from '../../components/spec';

/**
 * filters.antivirus / filters.spam with `deploy`: what the spec accepts and
 * the plain message on the field for what it does not; where the deployed
 * appliances are and that scaling never moves them or anything else.
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

const domains = [{ name: 'example.com' }];
const docker = (filters: unknown) => ({ name: 'scan', platform: { kind: 'docker' }, domains, filters });
const vmNet = { cidr: '10.40.0.0/24', gateway: '10.40.0.1', firstAddress: '10.40.0.10' };
const proxmox = (extra: Record<string, unknown> = {}): ClusterSpecInput =>
  ({
    name: 'px',
    platform: { kind: 'proxmox', endpoint: 'https://pve.example.net:8006/', nodes: ['pve1', 'pve2'], templateVmId: 9000, network: vmNet },
    storage: { kind: 'nfs', server: '10.40.0.5', path: '/export/mail', sizeGiB: 100 },
    domains,
    filters: { antivirus: { kind: 'clamd', deploy: true }, spam: { kind: 'rspamd', deploy: true } },
    ...extra,
  }) as ClusterSpecInput;

const REJECTED: [string, unknown, Problems][] = [
  [
    'your own clamd without its address',
    docker({ antivirus: { kind: 'clamd' } }),
    [{ path: 'filters.antivirus.address', message: 'required unless deploy: true: the host:port of your own clamd (for example 10.0.0.5:3310), or deploy: true to run one beside the gateways' }],
  ],
  [
    'your own spamd without its address',
    docker({ spam: { kind: 'spamd', deploy: false } }),
    [{ path: 'filters.spam.address', message: 'required unless deploy: true: the host:port of your own spamd (for example 10.0.0.6:783), or deploy: true to run one beside the gateways' }],
  ],
  [
    'deploy and an address: which one is meant?',
    docker({ antivirus: { kind: 'clamd', deploy: true, address: '10.0.0.5:3310' } }),
    [{ path: 'filters.antivirus.address', message: 'is filled in by mailfleet with deploy: true (the clamd it runs beside the gateways); remove it, or set deploy: false to use your own clamd at 10.0.0.5:3310' }],
  ],
  [
    'a mirror without its URL',
    docker({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'mirror' } } }),
    [{ path: 'filters.antivirus.updates.mirror', message: 'required with mode mirror: the URL of your private signature mirror, for example https://clamav-mirror.example.net/' }],
  ],
  [
    'a mirror URL with another mode',
    docker({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'freshclam', mirror: 'https://m.example.net/' } } }),
    [{ path: 'filters.antivirus.updates.mirror', message: 'is only read with mode mirror (mode is freshclam); remove it or set mode: mirror' }],
  ],
  [
    'a mirror that is not http(s)',
    docker({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'mirror', mirror: 'ftp://m.example.net/' } } }),
    [{ path: 'filters.antivirus.updates.mirror', message: 'must be an http(s) URL such as https://clamav-mirror.example.net/' }],
  ],
  [
    'an unknown update mode',
    docker({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'daily' } } }),
    [{ path: 'filters.antivirus.updates.mode', message: 'must be one of freshclam, mirror, none (got "daily")' }],
  ],
  [
    'updates, image and offline for a scanner mailfleet does not run',
    docker({ antivirus: { kind: 'clamd', address: '10.0.0.5:3310', updates: { mode: 'none' }, image: 'clamav/clamav:1.4.3' }, spam: { kind: 'rspamd', address: '10.0.0.6:11333', offline: true } }),
    [
      { path: 'filters.antivirus.updates', message: 'only applies with deploy: true (mailfleet configures only the clamd it deploys); remove it or set deploy: true' },
      { path: 'filters.antivirus.image', message: 'only applies with deploy: true (mailfleet configures only the clamd it deploys); remove it or set deploy: true' },
      { path: 'filters.spam.offline', message: 'only applies with deploy: true (mailfleet configures only the rspamd it deploys); remove it or set deploy: true' },
    ],
  ],
  [
    'deploying SpamAssassin',
    docker({ spam: { kind: 'spamd', deploy: true } }),
    [{ path: 'filters.spam.kind', message: 'deploy: true runs rspamd (kind: rspamd); SpamAssassin publishes no official image to pin, so run spamd yourself and give its address with deploy: false' }],
  ],
  [
    'an image reference with a space',
    docker({ antivirus: { kind: 'clamd', deploy: true, image: 'clamav/clamav 1.4' } }),
    [{ path: 'filters.antivirus.image', message: 'must be an image reference without spaces' }],
  ],
  [
    'deploy on the local platform',
    { name: 'loc', platform: { kind: 'local' }, domains, filters: { spam: { kind: 'rspamd', deploy: true } } },
    [{ path: 'filters.spam.deploy', message: 'local runs no appliances: start rspamd on this machine yourself and give its address (deploy: false); mailfleet deploys rspamd on kubernetes, docker, proxmox and vsphere' }],
  ],
  [
    '16 gateways with appliances on a VM platform',
    proxmox({ gateways: { count: 16 } }),
    [
      {
        path: 'gateways.count',
        message: 'at most 15 gateways fit the VM address plan with deployed appliances (filters.*.deploy): gateways take firstAddress + 10…24, the clamd/rspamd VMs + 25…29',
      },
    ],
  ],
  [
    'an image on a VM platform, where Debian\'s packages run',
    proxmox({ filters: { antivirus: { kind: 'clamd', deploy: true, image: 'registry.example.net/clamav:1.4.3' } } }),
    [{ path: 'filters.antivirus.image', message: 'is for kubernetes and docker; on proxmox the appliance VM installs clamav-daemon from Debian: remove it' }],
  ],
  [
    'the VIP on the appliance VM\'s address',
    proxmox({ loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.35' } }),
    [{ path: 'loadBalancer.vip', message: '10.40.0.35 is already the address of px-appliance-0' }],
  ],
];

describe('filters with deploy: the spec', () => {
  it.each(REJECTED)('%s', (_what, input, problems) => {
    expect(problemsOf(input)).toEqual(problems);
  });

  it('accepts each way of writing a filter, with the defaults spelled out once', () => {
    const deployed = parseClusterSpec(docker({ antivirus: { kind: 'clamd', deploy: true }, spam: { kind: 'rspamd', deploy: true } })).filters;
    expect(deployed.antivirus).toEqual({ kind: 'clamd', deploy: true, onError: 'tempfail' });
    expect(deployed.spam).toEqual({ kind: 'rspamd', deploy: true, rejectScore: 15, junkScore: 5, onError: 'accept', timeoutMs: 30000 });
    const own = parseClusterSpec(docker({ antivirus: { kind: 'clamd', address: '10.0.0.5:3310' } })).filters;
    expect(own.antivirus).toEqual({ kind: 'clamd', deploy: false, address: '10.0.0.5:3310', onError: 'tempfail' });
    const airGapped = parseClusterSpec(
      docker({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'mirror', mirror: 'https://m.example.net/clamav' } }, spam: { kind: 'rspamd', deploy: true, offline: true } }),
    ).filters;
    expect(airGapped.antivirus?.updates).toEqual({ mode: 'mirror', mirror: 'https://m.example.net/clamav' });
    expect(airGapped.spam?.offline).toBe(true);
  });

  it('a failover pair names its scanners; it deploys none', () => {
    const site = (name: string) => ({ site: { name }, platform: { kind: 'docker' }, storage: { kind: 'docker-volume', sizeGiB: 10 } });
    expect(problemsOf({ kind: 'failover-pair', name: 'p', domains, primary: site('a'), standby: site('b'), filters: { antivirus: { kind: 'clamd', deploy: true } } })).toEqual([
      { path: 'filters.antivirus.deploy', message: 'a failover pair deploys no appliances: run clamd at each site yourself and give its address (deploy: false)' },
    ]);
  });
});

describe('where the appliances are', () => {
  it('the VM plan: the appliance block is the gateway block\'s last five, every other block where it was', () => {
    expect(VM_ADDRESS_BLOCKS).toEqual({ hub: 0, loadBalancer: 5, gateway: 10, appliance: 25, proxy: 30, node: 50 });
    expect(VM_ADDRESS_BLOCKS.appliance + VM_ADDRESS_BLOCK_SIZE.appliance).toBe(VM_ADDRESS_BLOCKS.gateway + VM_ADDRESS_BLOCK_SIZE.gateway);
  });

  it('scaling any role never moves an appliance, and turning appliances on moves no member', () => {
    const addresses = (spec: ClusterSpecInput) => {
      const parsed = parseClusterSpec(spec);
      return { members: Object.fromEntries(renderRuntimeConfigs(parsed).map((m) => [m.memberId, m.address])), appliances: renderAppliances(parsed).map((a) => `${a.id} ${a.host}:${a.port}`) };
    };
    const small = addresses(proxmox({ gateways: { count: 2 }, nodes: { count: 2 } }));
    const big = addresses(proxmox({ gateways: { count: 15 }, nodes: { count: 6 }, hubs: { count: 5 }, proxies: { count: 20 } }));
    expect(small.appliances).toEqual(['px-appliance-0 10.40.0.35:3310', 'px-appliance-0 10.40.0.35:11333']);
    expect(big.appliances).toEqual(small.appliances);
    for (const [id, address] of Object.entries(small.members)) expect(big.members[id], id).toBe(address);
    const without = addresses(proxmox({ gateways: { count: 2 }, nodes: { count: 2 }, filters: {} }));
    expect(without.appliances).toEqual([]);
    expect(without.members).toEqual(small.members);
  });

  it('docker: per gateway host, numbered by host; kubernetes: per site, one Service per kind', () => {
    const dock = parseClusterSpec({ ...docker({ antivirus: { kind: 'clamd', deploy: true } }), platform: { kind: 'docker', hosts: ['ssh://a', 'ssh://b', 'ssh://c'] }, gateways: { count: 4 }, storage: { kind: 'docker-volume', sizeGiB: 10, nfs: { server: '10.0.0.5', path: '/m' } } });
    expect(renderAppliances(dock).map((a) => [a.id, a.index, a.gateways])).toEqual([
      ['scan-clamd-0', 0, ['scan-gateway-0', 'scan-gateway-3']],
      ['scan-clamd-1', 1, ['scan-gateway-1']],
      ['scan-clamd-2', 2, ['scan-gateway-2']],
    ]);
    const k8s = parseClusterSpec({ name: 'k', platform: { kind: 'kubernetes', namespace: 'mail' }, storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 10 }, domains, sites: [{ name: 'fra1' }], filters: { spam: { kind: 'rspamd', deploy: true } } });
    expect(renderAppliances(k8s)).toEqual([{ kind: 'rspamd', id: 'k-rspamd-0', index: 0, site: 'fra1', host: 'k-rspamd-0.mail.svc.cluster.local', port: APPLIANCE_PORTS.rspamd, gateways: ['k-gateway-0'] }]);
  });
});
