import type { RuntimeConfig } from '../../mail-runtime/config';

/**
 * Which secret files a member needs, read from its RuntimeConfig: the config
 * names every secret by path (never inline), so the files written into a VM
 * are exactly the ones its process will open — a hub gets the admin token, a
 * gateway the DKIM key, nobody gets what it does not read.
 */

export const SECRET_NAMES = [
  'adminToken',
  'clusterToken',
  'tlsCertPem',
  'tlsKeyPem',
  'dkimKeyPem',
  'internalCaPem',
  'internalCaKeyPem',
  'hubInternalCertPem',
  'hubInternalKeyPem',
  'nodeInternalCertPem',
  'nodeInternalKeyPem',
  'gatewayInternalCertPem',
  'gatewayInternalKeyPem',
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/** Plain secret values (already unwrapped from Pulumi outputs inside an apply). */
export type SecretMaterial = Partial<Record<SecretName, string>>;

export interface SecretFileRef {
  name: SecretName;
  /** Absolute path in the guest, from the RuntimeConfig. */
  path: string;
}

/** Secret files this member's config references, in a stable order. */
export function secretFilesFor(config: RuntimeConfig): SecretFileRef[] {
  const refs: SecretFileRef[] = [];
  if (config.clusterTokenFile) refs.push({ name: 'clusterToken', path: config.clusterTokenFile });
  if (config.tls) {
    refs.push({ name: 'tlsCertPem', path: config.tls.certFile });
    refs.push({ name: 'tlsKeyPem', path: config.tls.keyFile });
  }
  if ((config.role === 'hub' || config.role === 'all') && config.adminTokenFile) {
    refs.push({ name: 'adminToken', path: config.adminTokenFile });
  }
  if ((config.role === 'gateway' || config.role === 'all') && config.filters.dkim) {
    refs.push({ name: 'dkimKeyPem', path: config.filters.dkim.keyFile });
  }
  refs.push(...internalTlsFiles(config));
  // The cluster CA's key: hubs only (they sign the members' own certificates).
  if (config.role === 'hub' && config.clusterCaKeyFile) refs.push({ name: 'internalCaKeyPem', path: config.clusterCaKeyFile });
  return refs;
}

/** The secrets holding a role's certificate and key from the cluster CA (components/secrets.ts issues one per role). */
const INTERNAL_LEAF_SECRETS = {
  hub: ['hubInternalCertPem', 'hubInternalKeyPem'],
  all: ['hubInternalCertPem', 'hubInternalKeyPem'],
  node: ['nodeInternalCertPem', 'nodeInternalKeyPem'],
  gateway: ['gatewayInternalCertPem', 'gatewayInternalKeyPem'],
} as const satisfies Partial<Record<RuntimeConfig['role'], readonly [SecretName, SecretName]>>;

/**
 * The cluster-internal CA every member verifies the others by, and the
 * member's own certificate from it (`clusterTls`: hubs, nodes, gateways);
 * the key file is the only secret among them, the certificates travel with
 * it as one unit.
 */
function internalTlsFiles(config: RuntimeConfig): SecretFileRef[] {
  const t = config.clusterTls;
  if (!t) return [];
  const leaf = config.role in INTERNAL_LEAF_SECRETS ? INTERNAL_LEAF_SECRETS[config.role as keyof typeof INTERNAL_LEAF_SECRETS] : undefined;
  return [
    { name: 'internalCaPem', path: t.caFile },
    ...(t.certFile && t.keyFile && leaf ? [{ name: leaf[0], path: t.certFile }, { name: leaf[1], path: t.keyFile }] : []),
  ];
}

/** Names of the secrets a member needs (for synchronous checks before any apply). */
export function requiredSecrets(config: RuntimeConfig): SecretName[] {
  return secretFilesFor(config).map((r) => r.name);
}
