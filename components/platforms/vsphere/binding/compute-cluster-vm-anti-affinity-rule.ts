import * as pulumi from '@pulumi/pulumi';
import { keysOf, pickInputs, withPluginVersion } from './plugin';

export interface ComputeClusterVmAntiAffinityRuleArgs {
  /** Managed object id of the cluster (getComputeCluster `id`); changing it replaces the rule. */
  computeClusterId: pulumi.Input<string>;
  /** VM ids (the VirtualMachine resource `id`, i.e. its UUID) kept on different hosts. At least two. */
  virtualMachineIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Rule name as vCenter shows it. */
  name?: pulumi.Input<string>;
  enabled?: pulumi.Input<boolean>;
  /** Refuse operations that would break the rule (a "must" rule instead of a DRS "should"). */
  mandatory?: pulumi.Input<boolean>;
}

export const ANTI_AFFINITY_RULE_INPUTS = keysOf<ComputeClusterVmAntiAffinityRuleArgs>()(
  'computeClusterId',
  'virtualMachineIds',
  'name',
  'enabled',
  'mandatory',
);

/** A DRS VM-VM anti-affinity rule: DRS places the listed VMs on different ESXi hosts. */
export class ComputeClusterVmAntiAffinityRule extends pulumi.CustomResource {
  static readonly __pulumiType = 'vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule';

  declare readonly computeClusterId: pulumi.Output<string>;
  declare readonly virtualMachineIds: pulumi.Output<string[]>;
  declare readonly name: pulumi.Output<string>;

  constructor(name: string, args: ComputeClusterVmAntiAffinityRuleArgs, opts?: pulumi.CustomResourceOptions) {
    if (args.computeClusterId === undefined) throw new pulumi.ResourceError(`ComputeClusterVmAntiAffinityRule ${name}: computeClusterId is required`, opts?.parent);
    if (args.virtualMachineIds === undefined) throw new pulumi.ResourceError(`ComputeClusterVmAntiAffinityRule ${name}: virtualMachineIds is required`, opts?.parent);
    super(ComputeClusterVmAntiAffinityRule.__pulumiType, name, pickInputs(args, ANTI_AFFINITY_RULE_INPUTS) as pulumi.Inputs, withPluginVersion(opts));
  }
}
