import type * as pulumi from '@pulumi/pulumi';
import { memberUserData } from '../../cloud-init';
import { VM_ADDRESS_BLOCKS } from '../../spec';
import type { ClusterSecrets, Workload, WorkloadArgs } from '../types';
import { cloudInitSecrets } from './secrets';
import { createVm, nodeFor, roleResources, type ProxmoxBase } from './vm';
import { nfsMountOf } from './volume';

/** Extra guest packages on Proxmox: the QEMU guest agent reports the VM's addresses and enables clean shutdowns. */
export const PROXMOX_GUEST_PACKAGES = ['qemu-guest-agent'] as const;

/**
 * VM id of a member or load balancer: role blocks from firstVmId, the same
 * offsets as the address plan, so scaling a role never renumbers another.
 */
export function vmIdFor(firstVmId: number, block: keyof typeof VM_ADDRESS_BLOCKS, index: number): number {
  return firstVmId + VM_ADDRESS_BLOCKS[block] + index;
}

/** One VM per member of the role, each with its own cloud-init snippet and HA resource, and the role's HA rules on Proxmox VE 9. */
export function proxmoxWorkload(base: ProxmoxBase, secrets: ClusterSecrets, args: WorkloadArgs, parent: pulumi.Resource): Workload {
  const { spec, name } = base;
  const p = spec.platform;
  const storage = nfsMountOf(spec, parent);
  const vms = args.members.map((m) => {
    const userData = memberUserData(
      {
        member: m,
        storage,
        runtime: { packageUrl: spec.runtime.packageUrl, sha256: spec.runtime.sha256, nodeMajor: spec.runtime.nodeMajor },
        secrets: cloudInitSecrets(secrets),
        domain: p.network.searchDomain,
        extraPackages: [...PROXMOX_GUEST_PACKAGES],
      },
      parent,
    );
    return createVm(
      base,
      {
        resourceName: `${name}-${args.role}-${m.index}`,
        hostname: m.memberId,
        node: nodeFor(p.nodes, m.index),
        vmId: vmIdFor(p.firstVmId, args.role, m.index),
        address: m.address,
        size: args.size,
        userData,
        tags: ['mailfleet', spec.name, args.role],
        description: `mailfleet ${args.role} ${m.memberId} (cluster ${spec.name}); managed by Pulumi`,
      },
      parent,
    );
  });
  return { resources: roleResources(base, args.role, vms, parent), addresses: vms.map((v) => v.address) };
}
