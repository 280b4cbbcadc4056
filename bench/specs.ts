import type { ClusterSpecInput } from '../components/spec';

/** The benchmark topology: 100 nodes, 10 gateways, 1,000 domains. */
export function bigClusterSpec(platform: 'kubernetes' | 'docker' | 'proxmox' | 'vsphere'): ClusterSpecInput {
  const domains = Array.from({ length: 1000 }, (_, i) => ({ name: `customer${i}.example`, quota: { mailboxMiB: 1024, maxUsers: 50 } }));
  const net = { cidr: '10.50.0.0/22', gateway: '10.50.0.1', firstAddress: '10.50.0.10' };
  const platforms = {
    kubernetes: { platform: { kind: 'kubernetes' as const }, storage: { kind: 'pvc-rwx' as const, storageClass: 'cephfs', sizeGiB: 60000 } },
    docker: { platform: { kind: 'docker' as const, hosts: ['ssh://a', 'ssh://b', 'ssh://c'] }, storage: { kind: 'docker-volume' as const, nfs: { server: '10.0.0.5', path: '/mail' }, sizeGiB: 60000 } },
    proxmox: {
      platform: { kind: 'proxmox' as const, endpoint: 'https://pve:8006/', nodes: ['pve1', 'pve2', 'pve3'], templateVmId: 9000, network: net },
      storage: { kind: 'nfs' as const, server: '10.50.0.5', path: '/mail', sizeGiB: 60000 },
      loadBalancer: { kind: 'haproxy' as const, replicas: 2, vip: '10.50.0.8' },
    },
    vsphere: {
      platform: { kind: 'vsphere' as const, server: 'vc', datacenter: 'dc', cluster: 'c', datastore: 'ds', network: 'pg', template: 'tpl', addresses: net },
      storage: { kind: 'nfs' as const, server: '10.50.0.5', path: '/mail', sizeGiB: 60000 },
      loadBalancer: { kind: 'haproxy' as const, replicas: 2, vip: '10.50.0.8' },
    },
  };
  return {
    name: 'bench',
    environment: 'production',
    domains,
    hubs: { count: 3 },
    nodes: { count: 100 },
    gateways: { count: 10 },
    proxies: { count: 4 },
    ...platforms[platform],
  };
}

/** Provider credentials the adapters require (placeholders: nothing is contacted under mocks). */
export const BENCH_CONFIG = {
  config: { 'proxmoxve:apiToken': 'bench@pve!bench=00000000-0000-0000-0000-000000000000', 'vsphere:user': 'bench@vsphere.local', 'vsphere:password': 'bench' },
  secretKeys: ['proxmoxve:apiToken', 'vsphere:password'],
};
