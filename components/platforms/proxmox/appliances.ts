import * as pulumi from '@pulumi/pulumi';
import { APPLIANCE_SIZES, appliancePlan, applianceVms } from '../../appliances';
import { renderApplianceUserData } from '../../cloud-init';
import type { ApplianceArgs, Workload } from '../types';
import { createVm, nodeFor, type ProxmoxBase } from './vm';
import { PROXMOX_GUEST_PACKAGES, vmIdFor } from './workload';

/**
 * The security appliances beside the gateways on Proxmox: one VM per site
 * (`<cluster>-appliance-<i>`) running the deployed clamd and/or rspamd from
 * Debian's packages (components/cloud-init/appliance.ts), at the appliance
 * block of the address and VM id plan (firstAddress / firstVmId + 25 + i,
 * components/spec.ts VM_ADDRESS_BLOCKS), a member of the cluster's HA group
 * like every mailfleet VM: Proxmox HA restarts it on another node when its
 * node fails (meanwhile clamd's onError decides: temp-fail by default).
 */
export function proxmoxAppliances(base: ProxmoxBase, args: ApplianceArgs, parent: pulumi.Resource): Workload {
  const { spec } = base;
  const p = spec.platform;
  const plan = appliancePlan(spec, 'vm');
  const vms = applianceVms(args.appliances).map((vm) => {
    const userData = renderApplianceUserData({
      hostname: vm.hostname,
      cluster: spec.name,
      domain: p.network.searchDomain,
      clamd: vm.kinds.includes('clamd') ? plan.clamd : undefined,
      rspamd: vm.kinds.includes('rspamd') ? plan.rspamd : undefined,
      extraPackages: [...PROXMOX_GUEST_PACKAGES],
    });
    return {
      vm,
      made: createVm(
        base,
        {
          resourceName: `${args.namePrefix}-appliance-${vm.index}`,
          hostname: vm.hostname,
          node: nodeFor(p.nodes, vm.index),
          vmId: vmIdFor(p.firstVmId, 'appliance', vm.index),
          address: vm.address,
          size: APPLIANCE_SIZES.vm,
          userData: pulumi.output(userData),
          tags: ['mailfleet', spec.name, 'appliance'],
          description: `mailfleet appliance ${vm.hostname} (${vm.kinds.join(', ')} beside the gateways of site ${vm.site}, cluster ${spec.name}); managed by Pulumi`,
        },
        parent,
      ),
    };
  });
  const byIndex = new Map(vms.map((v) => [v.vm.index, v.made]));
  return {
    resources: vms.flatMap((v) => v.made.resources),
    addresses: args.appliances.map((a) => byIndex.get(a.index)!.address.apply((ip) => `${ip}:${a.port}`)),
  };
}
