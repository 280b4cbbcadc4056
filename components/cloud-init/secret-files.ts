import type { RuntimeConfig } from '../../mail-runtime/config';

/**
 * Which secret files a member needs, read from its RuntimeConfig: the config
 * names every secret by path (never inline), so the files written into a VM
 * are exactly the ones its process will open — a hub gets the admin token, a
 * gateway the DKIM key, nobody gets what it does not read.
 */

export const SECRET_NAMES = ['adminToken', 'clusterToken', 'tlsCertPem', 'tlsKeyPem', 'dkimKeyPem'] as const;
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
  return refs;
}

/** Names of the secrets a member needs (for synchronous checks before any apply). */
export function requiredSecrets(config: RuntimeConfig): SecretName[] {
  return secretFilesFor(config).map((r) => r.name);
}
