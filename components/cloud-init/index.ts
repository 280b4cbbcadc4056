/**
 * Shared cloud-init rendering for the VM platforms (proxmox, vsphere).
 *
 * Pure renderers (plain strings in, `#cloud-config` YAML out) plus thin Pulumi
 * wrappers that resolve secret inputs and return the user data as a Pulumi
 * secret. Use the wrappers at call sites: member user data always carries
 * secret files (cluster token, TLS key...), so it must never be a plain input.
 */
export { renderMemberUserData, memberConfigPath, nfsFstabEntry, MAILFLEET_UID, MAILFLEET_USER, INSTALL_DIR, BOOTSTRAP_PATH } from './member';
export type { MemberUserDataArgs, NfsMount } from './member';
export { renderLoadBalancerUserData, HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH } from './load-balancer';
export type { LoadBalancerUserDataArgs } from './load-balancer';
export { renderNetworkConfig, networkConfigV2 } from './network';
export type { StaticNetworkArgs, NetworkConfigV2 } from './network';
export { renderSystemdUnit, unitName } from './systemd';
export { secretFilesFor, requiredSecrets, SECRET_NAMES } from './secret-files';
export type { SecretName, SecretMaterial, SecretFileRef } from './secret-files';
export { memberUserData, loadBalancerUserData } from './output';
export type { MemberUserDataInputs, LoadBalancerUserDataInputs, SecretInputs } from './output';
export { CLOUD_CONFIG_HEADER, toCloudConfigYaml } from './document';
export type { CloudConfig, WriteFile } from './document';
