import type { RuntimeConfig } from '../../mail-runtime/config';

/**
 * Which secret files a member needs, read from its RuntimeConfig: the config
 * names every secret by path (never inline), so the files written into a VM
 * are exactly the ones its process will open — a hub gets the admin token, a
 * gateway the DKIM key, nobody gets what it does not read.
 */

export const SECRET_NAMES = ['adminToken', 'clusterToken', 'tlsCertPem', 'tlsKeyPem', 'dkimKeyPem', 'internalCaPem', 'hubInternalCertPem', 'hubInternalKeyPem'] as const;
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
  return refs;
}

/**
 * The cluster-internal CA every member verifies the hub by, and the hub's
 * own certificate from it (`clusterTls`); a hub's key file is the only
 * secret among them, the certificates travel with it as one unit.
 */
function internalTlsFiles(config: RuntimeConfig): SecretFileRef[] {
  const t = config.clusterTls;
  if (!t) return [];
  return [
    { name: 'internalCaPem', path: t.caFile },
    ...(t.certFile && t.keyFile ? [{ name: 'hubInternalCertPem' as const, path: t.certFile }, { name: 'hubInternalKeyPem' as const, path: t.keyFile }] : []),
  ];
}

/** Names of the secrets a member needs (for synchronous checks before any apply). */
export function requiredSecrets(config: RuntimeConfig): SecretName[] {
  return secretFilesFor(config).map((r) => r.name);
}
