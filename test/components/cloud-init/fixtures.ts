import { renderRuntimeConfigs, type RenderedMember } from '../../../components/render';
import { parseClusterSpec, type ClusterSpec, type ClusterSpecInput } from '../../../components/spec';
import type { SecretMaterial } from '../../../components/cloud-init';

/** A SHA-256 in the form a release publishes it (not the hash of any real tarball). */
export const RUNTIME_SHA256 = '3f1c9a0b7d2e4f6a8c0e1b3d5f7a9c1e2b4d6f8a0c2e4b6d8f0a1c3e5b7d9f1a';

/** What the VM workloads hand the cloud-init renderer from spec.runtime. */
export function runtimeOf(spec: ClusterSpec): { packageUrl: string; sha256: string | undefined; nodeMajor: number } {
  return { packageUrl: spec.runtime.packageUrl, sha256: spec.runtime.sha256, nodeMajor: spec.runtime.nodeMajor };
}

/** A production-like Proxmox cluster spec (only VM platforms use cloud-init). */
export const vmSpecInput: ClusterSpecInput = {
  name: 'mail-ci',
  environment: 'production',
  hostname: 'mail.example.net',
  platform: {
    kind: 'proxmox',
    endpoint: 'https://pve1.example.net:8006/',
    nodes: ['pve1', 'pve2', 'pve3'],
    templateVmId: 9000,
    network: { cidr: '10.50.0.0/24', gateway: '10.50.0.1', firstAddress: '10.50.0.10', dns: ['10.50.0.2'], searchDomain: 'example.net' },
  },
  domains: [{ name: 'example.net' }],
  hubs: { count: 2 },
  nodes: { count: 3 },
  gateways: { count: 2 },
  proxies: { count: 2 },
  filters: { dkim: { selector: 'mf1' } },
  storage: { kind: 'nfs', server: '10.50.0.5', path: '/export/mail', sizeGiB: 500 },
  loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.50.0.8' },
  runtime: { packageUrl: 'https://registry.npmjs.org/mailfleet/-/mailfleet-0.1.0.tgz', sha256: RUNTIME_SHA256 },
};

export function vmCluster(): { spec: ClusterSpec; members: RenderedMember[] } {
  const spec = parseClusterSpec(vmSpecInput);
  return { spec, members: renderRuntimeConfigs(spec) };
}

/** Deterministic fake secrets, with characters that would break naive YAML. */
export const fakeSecrets: Required<SecretMaterial> = {
  adminToken: 'admin-token: "quoted" # not a comment',
  clusterToken: 'cluster-token-0123456789',
  tlsCertPem: '-----BEGIN CERTIFICATE-----\nMIIBfakeCERT\n-----END CERTIFICATE-----\n',
  tlsKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGfakeKEY: {x}\n-----END PRIVATE KEY-----\n',
  dkimKeyPem: '-----BEGIN PRIVATE KEY-----\nMIIEfakeDKIM\n-----END PRIVATE KEY-----\n',
  internalCaPem: '-----BEGIN CERTIFICATE-----\nMIIBfakeINTERNALCA\n-----END CERTIFICATE-----\n',
  internalCaKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGfakeINTERNALCAKEY\n-----END PRIVATE KEY-----\n',
  hubInternalCertPem: '-----BEGIN CERTIFICATE-----\nMIIBfakeHUBCERT\n-----END CERTIFICATE-----\n',
  hubInternalKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGfakeHUBKEY\n-----END PRIVATE KEY-----\n',
  nodeInternalCertPem: '-----BEGIN CERTIFICATE-----\nMIIBfakeNODECERT\n-----END CERTIFICATE-----\n',
  nodeInternalKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGfakeNODEKEY\n-----END PRIVATE KEY-----\n',
  gatewayInternalCertPem: '-----BEGIN CERTIFICATE-----\nMIIBfakeGATEWAYCERT\n-----END CERTIFICATE-----\n',
  gatewayInternalKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGfakeGATEWAYKEY\n-----END PRIVATE KEY-----\n',
};
