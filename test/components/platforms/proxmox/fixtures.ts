import type { ClusterSpecInput } from '../../../../components/spec';

/** Proxmox API token in the format Proxmox issues (fake secret part). */
export const FAKE_TOKEN = 'mailfleet@pve!deploy=0b6c3a4e-1f2d-4c5b-9a8e-7d6c5b4a3f21';

/** MailClusterArgs.credentials as a stack program passes them (components read no config). */
export const PROXMOX_CREDENTIALS = { proxmox: { apiToken: FAKE_TOKEN } };

/** Production HA cluster on a 3-host Proxmox cluster. */
export function proxmoxSpec(nodeCount = 3, overrides: Partial<ClusterSpecInput> = {}): ClusterSpecInput {
  return {
    name: 'mail-px',
    environment: 'production',
    hostname: 'mail.example.net',
    platform: {
      kind: 'proxmox',
      endpoint: 'https://pve1.example.net:8006/',
      nodes: ['pve1', 'pve2', 'pve3'],
      templateVmId: 9000,
      templateNode: 'pve1',
      datastore: 'ceph-vm',
      bridge: 'vmbr0',
      vlan: 40,
      network: { cidr: '10.40.0.0/24', gateway: '10.40.0.1', firstAddress: '10.40.0.10', dns: ['10.40.0.2'], searchDomain: 'example.net' },
    },
    domains: [{ name: 'example.net' }],
    hubs: { count: 2 },
    nodes: { count: nodeCount, cpu: 4, memoryMiB: 8192, diskGiB: 40 },
    gateways: { count: 2 },
    proxies: { count: 2 },
    filters: { dkim: { selector: 'mf1' } },
    storage: { kind: 'nfs', server: '10.40.0.5', path: '/export/mail', sizeGiB: 2000, backup: { schedule: '0 3 * * *', retain: 14 } },
    loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.8' },
    ...overrides,
  };
}
