/**
 * Shared cloud-init rendering for the VM platforms (proxmox, vsphere).
 *
 * Pure renderers (plain strings in, `#cloud-config` YAML out) plus thin Pulumi
 * wrappers that resolve secret inputs and return the user data as a Pulumi
 * secret. Use the wrappers at call sites: member user data always carries
 * secret files (cluster token, TLS key...), so it must never be a plain input.
 */
export { renderMemberUserData, memberConfigPath, nfsFstabEntry, MAILFLEET_UID, BOOTSTRAP_PATH } from './member';
export type { NfsMount } from './member';
export { renderLoadBalancerUserData, HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH } from './load-balancer';
export { renderNetworkConfig, networkConfigV2 } from './network';
export type { NetworkConfigV2 } from './network';
export { requiredSecrets } from './secret-files';
export type { SecretMaterial } from './secret-files';
export { memberUserData, loadBalancerUserData } from './output';
export { renderApplianceUserData, APPLIANCE_CONFIG_DIR, APPLIANCE_UNITS, APPLIANCE_BOOTSTRAP_PATH, POLICY_RC_D, RSPAMD_LOCAL_DIR } from './appliance';
export type { ApplianceUserDataArgs } from './appliance';
export type { SecretInputs } from './output';
export type { CloudConfig, WriteFile } from './document';
