/**
 * A small typed binding for the Pulumi vSphere provider (plugin 4.17.0):
 * `@pulumi/vsphere` is not served by the registry these machines use, so the
 * few resources and data sources mailfleet needs are declared here with the
 * provider's own type tokens and property names, checked by
 * test/components/platforms/vsphere against shared/schemas/vsphere-provider.json.
 */
export { VSPHERE_PACKAGE, VSPHERE_PLUGIN_VERSION } from './plugin';
export { Provider, PROVIDER_INPUTS, PROVIDER_JSON_INPUTS } from './provider';
export { VirtualMachine, VIRTUAL_MACHINE_INPUTS, VIRTUAL_MACHINE_OUTPUTS, VIRTUAL_MACHINE_TYPES } from './virtual-machine';
export type { VirtualMachineDisk } from './virtual-machine';
export { ComputeClusterVmAntiAffinityRule, ANTI_AFFINITY_RULE_INPUTS } from './compute-cluster-vm-anti-affinity-rule';
export { FUNCTION_NAMES, FUNCTION_TOKENS, FUNCTION_TYPES, getComputeCluster, getDatacenter, getDatastore, getNetwork, getVirtualMachine } from './data-sources';
export type { GetComputeClusterResult, GetVirtualMachineResult } from './data-sources';
