import type { ClusterSpec, PlatformOf } from '../../spec';

/**
 * What Proxmox needs of the spec — each node once, an HA group id Proxmox
 * accepts, VM ids in range and clear of the template, the VM address plan
 * inside the subnet, the VIP on a free host address — is checked by the
 * spec's validation (components/spec.ts), so a spec `mailfleet validate`
 * accepts also previews. Only derived values live here.
 */

/** The HA group (Proxmox VE 8) or the prefix of the HA rules (9): `platform.haGroup`, default `mailfleet-<name>`. */
export function haGroupName(spec: ClusterSpec & { platform: PlatformOf<'proxmox'> }): string {
  return spec.platform.haGroup ?? `mailfleet-${spec.name}`;
}
