import type { SecretInputs } from '../../cloud-init';
import type { ClusterSecrets, SecretStore } from '../types';

/**
 * On Proxmox the secrets live as files inside each VM (/etc/mailfleet/secrets,
 * /etc/mailfleet/tls, mode 0600, owner mailfleet), written by cloud-init from
 * the VM's user-data snippet — which is therefore a Pulumi secret as a whole.
 * There is no separate platform object to create, so the store is empty; the
 * secret inputs go to the cloud-init renderer instead.
 */
export function proxmoxSecretStore(): SecretStore {
  return { resources: [] };
}

/** ClusterSecrets as cloud-init renderer inputs (each still a Pulumi secret). */
export function cloudInitSecrets(s: ClusterSecrets): SecretInputs {
  return {
    adminToken: s.adminToken,
    clusterToken: s.clusterToken,
    ...(s.tlsCertPem ? { tlsCertPem: s.tlsCertPem } : {}),
    ...(s.tlsKeyPem ? { tlsKeyPem: s.tlsKeyPem } : {}),
    ...(s.dkimKeyPem ? { dkimKeyPem: s.dkimKeyPem } : {}),
    ...(s.internalCaPem ? { internalCaPem: s.internalCaPem } : {}),
    ...(s.internalCaKeyPem ? { internalCaKeyPem: s.internalCaKeyPem } : {}),
    ...(s.hubInternalCertPem ? { hubInternalCertPem: s.hubInternalCertPem } : {}),
    ...(s.hubInternalKeyPem ? { hubInternalKeyPem: s.hubInternalKeyPem } : {}),
    ...(s.internalLeaves
      ? {
          nodeInternalCertPem: s.internalLeaves.node.certPem,
          nodeInternalKeyPem: s.internalLeaves.node.keyPem,
          gatewayInternalCertPem: s.internalLeaves.gateway.certPem,
          gatewayInternalKeyPem: s.internalLeaves.gateway.keyPem,
        }
      : {}),
  };
}
