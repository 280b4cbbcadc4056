import * as pulumi from '@pulumi/pulumi';
import { ComputeClusterVmAntiAffinityRule, VirtualMachine, type GetVirtualMachineResult, type VirtualMachineDisk } from './binding';
import { guestMetadata, guestinfoExtraConfig, staticMacAddress, type GuestNetwork } from './guestinfo';
import type { Inventory } from './inventory';

/**
 * One VM cloned from the spec's template, configured by cloud-init through
 * guestinfo (./guestinfo.ts), and the DRS rule that keeps a role's VMs apart.
 * Shared by the mail members (./workload.ts) and the HAProxy VMs
 * (./load-balancer.ts).
 */

export interface VmArgs {
  /** Pulumi resource name (`${name}-<role>-<i>`). */
  resourceName: string;
  /** vCenter inventory name and guest host name (the member id). */
  hostname: string;
  /** What the VM is, for the vCenter annotation. */
  purpose: string;
  address: string;
  size: { cpu: number; memoryMiB: number; diskGiB: number };
  /** `#cloud-config` user data; must be a secret Output when it carries secrets. */
  userData: pulumi.Output<string>;
  network: Omit<GuestNetwork, 'address' | 'macAddress'>;
  dependsOn?: pulumi.Resource[];
}

/**
 * vCPUs are whole: a fractional spec size (meant for container CPU shares)
 * rounds up so the VM never gets less than asked for.
 */
export function vcpus(cpu: number): number {
  return Math.max(1, Math.ceil(cpu));
}

/**
 * A clone must declare every disk of its template (the provider tracks disks
 * by label) and may only grow them: the first disk is the root disk and gets
 * the role's size when that is larger; other template disks keep theirs.
 */
export function cloneDisks(template: Pick<GetVirtualMachineResult, 'disks'> | undefined, rootGiB: number): VirtualMachineDisk[] {
  const disks = template?.disks ?? [];
  if (disks.length === 0) return [{ label: 'disk0', size: rootGiB }];
  return disks.map((d, i) => ({
    label: `disk${i}`,
    size: i === 0 ? Math.max(rootGiB, d.size ?? 0) : d.size,
    unitNumber: d.unitNumber,
    thinProvisioned: d.thinProvisioned,
    eagerlyScrub: d.eagerlyScrub,
  }));
}

export function createVm(inv: Inventory, clusterName: string, args: VmArgs, parent: pulumi.Resource): VirtualMachine {
  const macAddress = staticMacAddress(args.address);
  const net: GuestNetwork = { ...args.network, address: args.address, macAddress };
  // The whole map is one secret: the user data carries secret files, and
  // secretness of a map input is tracked for the whole property anyway.
  const extraConfig = pulumi.secret(args.userData.apply((ud) => guestinfoExtraConfig(ud, guestMetadata(args.hostname, net, ud))));
  const t = inv.template;
  return new VirtualMachine(
    args.resourceName,
    {
      name: args.hostname,
      resourcePoolId: inv.cluster.apply((c) => c.resourcePoolId),
      datastoreId: inv.datastoreId,
      folder: inv.folder,
      annotation: `mailfleet ${args.purpose} ${args.hostname} of cluster ${clusterName}, ${args.address}. Managed by Pulumi: changes made here are reverted.`,
      numCpus: vcpus(args.size.cpu),
      memory: args.size.memoryMiB,
      // Hardware the template's OS was installed for: a different firmware or
      // SCSI controller leaves the clone unbootable.
      guestId: t.apply((x) => x.guestId),
      firmware: t.apply((x) => x.firmware ?? 'bios'), // the provider's own default
      scsiType: t.apply((x) => x.scsiType),
      disks: t.apply((x) => cloneDisks(x, args.size.diskGiB)),
      networkInterfaces: pulumi.all([inv.networkId, t]).apply(([networkId, x]) => [
        { networkId, adapterType: x.networkInterfaceTypes?.[0], useStaticMac: true, macAddress },
      ]),
      clone: { templateUuid: t.apply((x) => x.id) },
      extraConfig,
    },
    { parent, provider: inv.provider, dependsOn: args.dependsOn },
  );
}

/**
 * A DRS VM-VM anti-affinity rule over `vms` (two or more), so losing one
 * ESXi host takes down at most one of them. A "should" rule (not mandatory):
 * on a cluster with fewer hosts than VMs, or with a host in maintenance, the
 * VMs still start; DRS separates them again when it can.
 */
export function antiAffinityRule(
  inv: Inventory,
  resourceName: string,
  ruleName: string,
  vms: readonly VirtualMachine[],
  parent: pulumi.Resource,
): ComputeClusterVmAntiAffinityRule | undefined {
  if (vms.length < 2) return undefined;
  return new ComputeClusterVmAntiAffinityRule(
    resourceName,
    { computeClusterId: inv.cluster.apply((c) => c.id), virtualMachineIds: vms.map((vm) => vm.id), name: ruleName, enabled: true, mandatory: false },
    { parent, provider: inv.provider },
  );
}
