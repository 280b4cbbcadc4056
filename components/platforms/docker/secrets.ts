import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../../mail-runtime/config';
import { GUEST_PATHS } from '../../render';
import { internalLeafOf, type ClusterSecrets, type SecretStore } from '../types';

/**
 * Docker has no secret object outside Swarm, so secrets travel as files the
 * provider uploads into each container before it starts (`uploads`), with
 * content taken from the Pulumi secret Outputs: they stay encrypted in the
 * state and never appear in the container's environment or labels.
 *
 * Each member gets only the files its RuntimeConfig names: every member the
 * cluster token and TLS pair, the hubs the admin token, DKIM-signing gateways
 * the DKIM key.
 */

/** The image's unprivileged user (Dockerfile `USER 1000:1000`). */
export const RUNTIME_UID = '1000';

/** Nothing to create: the files are part of each container. */
export function createSecretStore(): SecretStore {
  return { resources: [] };
}

type Upload = docker.types.input.ContainerUpload;

const secretFile = (file: string, content: pulumi.Output<string>, mode = '0400'): Upload => ({
  file,
  content: pulumi.secret(content),
  owner: RUNTIME_UID,
  group: RUNTIME_UID,
  permissions: mode,
});

/** Secret files for one member, from the paths its RuntimeConfig names. */
export function secretUploads(config: RuntimeConfig, secrets: ClusterSecrets): Upload[] {
  const uploads: Upload[] = [];
  if (config.clusterTokenFile) uploads.push(secretFile(config.clusterTokenFile, secrets.clusterToken));
  if (config.tls && secrets.tlsKeyPem && secrets.tlsCertPem) {
    // The certificate is public; it still travels with its key as one unit.
    uploads.push(secretFile(config.tls.certFile, secrets.tlsCertPem, '0444'));
    uploads.push(secretFile(config.tls.keyFile, secrets.tlsKeyPem));
  }
  if ((config.role === 'hub' || config.role === 'all') && config.adminTokenFile) {
    uploads.push(secretFile(config.adminTokenFile, secrets.adminToken));
  }
  if ((config.role === 'gateway' || config.role === 'all') && config.filters.dkim && secrets.dkimKeyPem) {
    uploads.push(secretFile(config.filters.dkim.keyFile, secrets.dkimKeyPem));
  }
  // The cluster-internal CA (every member) and the member's role certificate from it (hubs, nodes, gateways).
  const t = config.clusterTls;
  if (t && secrets.internalCaPem) uploads.push(secretFile(t.caFile, secrets.internalCaPem, '0444'));
  // The CA key: hubs only (they sign the members' own certificates).
  if (config.role === 'hub' && config.clusterCaKeyFile && secrets.internalCaKeyPem) uploads.push(secretFile(config.clusterCaKeyFile, secrets.internalCaKeyPem));
  const leaf = internalLeafOf(secrets, config.role);
  if (t?.certFile && t.keyFile && leaf) {
    uploads.push(secretFile(t.certFile, leaf.certPem, '0444'));
    uploads.push(secretFile(t.keyFile, leaf.keyPem));
  }
  return uploads;
}

/** Where the RuntimeConfig goes; MAILFLEET_CONFIG points here. */
export const CONFIG_FILE = `${GUEST_PATHS.configDir}/config.json`;

/** The RuntimeConfig as a file: it holds only paths to secrets, never their values. */
export function configUpload(config: RuntimeConfig): Upload {
  return { file: CONFIG_FILE, content: `${JSON.stringify(config, null, 2)}\n`, owner: RUNTIME_UID, group: RUNTIME_UID, permissions: '0444' };
}
