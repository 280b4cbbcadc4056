import type * as pulumi from '@pulumi/pulumi';
import type { SecretStore } from '../types';

/**
 * On vSphere the secrets live as files inside each VM (0600, owned by the
 * service account), written by cloud-init from the member's user data — which
 * is why that user data, and the VM's whole extraConfig, is a Pulumi secret.
 * There is no platform secret object to create: vCenter has no secret store a
 * guest could read, so this store is empty and the files are the store.
 */
export function vsphereSecrets(_parent: pulumi.Resource): SecretStore {
  return { resources: [] };
}
