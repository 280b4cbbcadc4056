import type { PlatformAdapter } from '../types';
import { createAppliances } from './appliances';
import type { VsphereCredentials } from './credentials';
import { openInventory } from './inventory';
import { createLoadBalancer } from './load-balancer';
import { vsphereSecrets } from './secrets';
import { nfsVolume } from './volume';
import { createWorkload } from './workload';

/**
 * VMware vSphere: VMs cloned from a cloud-init template, configured through
 * guestinfo, on NFS shared storage mounted in the guests, kept on separate
 * ESXi hosts by DRS anti-affinity rules, behind an HAProxy + keepalived pair.
 * The provider is the caller's, or one built for the spec's vCenter with the
 * credentials the caller passes (./credentials.ts).
 */
export const vsphereAdapter: PlatformAdapter<'vsphere', VsphereCredentials> = {
  kind: 'vsphere',
  open(ctx, parent, providers) {
    // The spec's validation has checked storage, the address plan and the
    // load balancer; credentials are checked before the first resource exists.
    const inv = openInventory(ctx, parent, providers);
    return {
      secrets: (p) => vsphereSecrets(p),
      volume: (p) => nfsVolume(ctx.spec.storage, p),
      workload: (args, p) => createWorkload(inv, ctx, args, p),
      loadBalancer: (args, p) => createLoadBalancer(inv, ctx, args, p),
      appliances: (args, p) => createAppliances(inv, ctx, args, p),
    };
  },
};

export { vsphereMockInvokes, vsphereMockOutputs } from './mocks';
export { GUESTINFO, decodeGuestinfo } from './guestinfo';
export type { GuestMetadata } from './guestinfo';
export { vsphereCredentialsFromStackConfig } from './credentials';
export type { VsphereCredentials } from './credentials';
