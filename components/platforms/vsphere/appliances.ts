import * as pulumi from '@pulumi/pulumi';
import { APPLIANCE_SIZES, appliancePlan, applianceVms } from '../../appliances';
import { renderApplianceUserData } from '../../cloud-init';
import type { ApplianceArgs, ClusterContext, Workload } from '../types';
import type { Inventory } from './inventory';
import { antiAffinityRule, createVm } from './vm';

/**
 * The security appliances beside the gateways on vSphere: one VM per site
 * (`<cluster>-appliance-<i>`) cloned from the template, running the
 * deployed clamd and/or rspamd from Debian's packages
 * (components/cloud-init/appliance.ts) configured through guestinfo like
 * every mailfleet VM, at the appliance block of the address plan
 * (firstAddress + 25 + i, components/spec.ts VM_ADDRESS_BLOCKS). Several
 * sites' appliances get a DRS anti-affinity rule, like a role's members.
 */
export function createAppliances(inv: Inventory, ctx: ClusterContext<'vsphere'>, args: ApplianceArgs, parent: pulumi.Resource): Workload {
  const spec = ctx.spec;
  const net = spec.platform.addresses;
  const plan = appliancePlan(spec, 'vm');
  const vms = applianceVms(args.appliances).map((vm) => ({
    vm,
    made: createVm(
      inv,
      spec.name,
      {
        resourceName: `${args.namePrefix}-appliance-${vm.index}`,
        hostname: vm.hostname,
        purpose: `appliance (${vm.kinds.join(', ')} beside the gateways of site ${vm.site})`,
        address: vm.address,
        size: APPLIANCE_SIZES.vm,
        userData: pulumi.output(
          renderApplianceUserData({
            hostname: vm.hostname,
            cluster: spec.name,
            domain: net.searchDomain,
            clamd: vm.kinds.includes('clamd') ? plan.clamd : undefined,
            rspamd: vm.kinds.includes('rspamd') ? plan.rspamd : undefined,
          }),
        ),
        network: { cidr: net.cidr, gateway: net.gateway, dns: net.dns, searchDomain: net.searchDomain },
      },
      parent,
    ),
  }));
  const rule = antiAffinityRule(inv, `${args.namePrefix}-appliance-anti-affinity`, `${spec.name}-appliance-anti-affinity`, vms.map((v) => v.made), parent);
  const byIndex = new Map(vms.map((v) => [v.vm.index, v]));
  return {
    resources: [...vms.map((v) => v.made), ...(rule ? [rule] : [])],
    addresses: args.appliances.map((a) => byIndex.get(a.index)!.made.id.apply(() => `${a.host}:${a.port}`)),
  };
}
