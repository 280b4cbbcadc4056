import * as pulumi from '@pulumi/pulumi';
import { keysOf, withInvokeVersion } from './plugin';

/**
 * Data sources (provider functions) through `pulumi.runtime.invokeOutput`,
 * like the generated SDK's `get<X>Output` forms: inputs may be Outputs (the
 * datacenter id feeds the other look-ups) and the result is an Output.
 * Result interfaces list the outputs mailfleet reads, with the schema's names
 * and required-ness (`functions.<token>.outputTypes`).
 */

export const FUNCTION_TOKENS = {
  getDatacenter: 'vsphere:index/getDatacenter:getDatacenter',
  getComputeCluster: 'vsphere:index/getComputeCluster:getComputeCluster',
  getDatastore: 'vsphere:index/getDatastore:getDatastore',
  getNetwork: 'vsphere:index/getNetwork:getNetwork',
  getVirtualMachine: 'vsphere:index/getVirtualMachine:getVirtualMachine',
} as const;

// --- getDatacenter
export interface GetDatacenterArgs {
  /** Omitted: the only datacenter (ESXi, or a vCenter with one). */
  name?: pulumi.Input<string>;
}
export interface GetDatacenterResult {
  /** Managed object id. */
  readonly id: string;
  readonly name?: string;
  readonly virtualMachines: string[];
}

// --- getComputeCluster
export interface GetComputeClusterArgs {
  name: pulumi.Input<string>;
  datacenterId?: pulumi.Input<string>;
}
export interface GetComputeClusterResult {
  readonly id: string;
  readonly name: string;
  readonly datacenterId?: string;
  /** The cluster's root resource pool: where VMs of the cluster are created. */
  readonly resourcePoolId: string;
}

// --- getDatastore
export interface GetDatastoreArgs {
  name: pulumi.Input<string>;
  datacenterId?: pulumi.Input<string>;
}
export interface GetDatastoreResult {
  readonly id: string;
  readonly name: string;
  readonly datacenterId?: string;
  readonly stats?: Record<string, string>;
}

// --- getNetwork
export interface GetNetworkArgs {
  /** Port group (standard or distributed) or NSX segment name. */
  name: pulumi.Input<string>;
  datacenterId?: pulumi.Input<string>;
  distributedVirtualSwitchUuid?: pulumi.Input<string>;
}
export interface GetNetworkResult {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly datacenterId?: string;
}

// --- getVirtualMachine (the template)
export interface GetVirtualMachineArgs {
  name?: pulumi.Input<string>;
  uuid?: pulumi.Input<string>;
  moid?: pulumi.Input<string>;
  datacenterId?: pulumi.Input<string>;
  folder?: pulumi.Input<string>;
}
/** `vsphere:index/getVirtualMachineDisk:getVirtualMachineDisk` */
export interface GetVirtualMachineDisk {
  readonly label: string;
  /** GiB. */
  readonly size: number;
  readonly thinProvisioned: boolean;
  readonly eagerlyScrub: boolean;
  readonly unitNumber: number;
}
export interface GetVirtualMachineResult {
  /** The UUID: what `clone.templateUuid` takes. */
  readonly id: string;
  readonly uuid: string;
  readonly moid: string;
  readonly guestId: string;
  readonly scsiType: string;
  readonly firmware?: string;
  readonly disks: GetVirtualMachineDisk[];
  readonly networkInterfaceTypes: string[];
  readonly numCpus?: number;
  readonly memory?: number;
}

/** Every declared name, for the conformance test (token → inputs / outputs). */
export const FUNCTION_NAMES = {
  [FUNCTION_TOKENS.getDatacenter]: {
    inputs: keysOf<GetDatacenterArgs>()('name'),
    outputs: keysOf<GetDatacenterResult>()('id', 'name', 'virtualMachines'),
  },
  [FUNCTION_TOKENS.getComputeCluster]: {
    inputs: keysOf<GetComputeClusterArgs>()('name', 'datacenterId'),
    outputs: keysOf<GetComputeClusterResult>()('id', 'name', 'datacenterId', 'resourcePoolId'),
  },
  [FUNCTION_TOKENS.getDatastore]: {
    inputs: keysOf<GetDatastoreArgs>()('name', 'datacenterId'),
    outputs: keysOf<GetDatastoreResult>()('id', 'name', 'datacenterId', 'stats'),
  },
  [FUNCTION_TOKENS.getNetwork]: {
    inputs: keysOf<GetNetworkArgs>()('name', 'datacenterId', 'distributedVirtualSwitchUuid'),
    outputs: keysOf<GetNetworkResult>()('id', 'name', 'type', 'datacenterId'),
  },
  [FUNCTION_TOKENS.getVirtualMachine]: {
    inputs: keysOf<GetVirtualMachineArgs>()('name', 'uuid', 'moid', 'datacenterId', 'folder'),
    outputs: keysOf<GetVirtualMachineResult>()(
      'id',
      'uuid',
      'moid',
      'guestId',
      'scsiType',
      'firmware',
      'disks',
      'networkInterfaceTypes',
      'numCpus',
      'memory',
    ),
  },
} as const;

/** Nested result types, token → names. */
export const FUNCTION_TYPES = {
  'vsphere:index/getVirtualMachineDisk:getVirtualMachineDisk': keysOf<GetVirtualMachineDisk>()('label', 'size', 'thinProvisioned', 'eagerlyScrub', 'unitNumber'),
} as const;

function invoke<R>(token: string, args: object, opts?: pulumi.InvokeOutputOptions): pulumi.Output<R> {
  // Undefined inputs are left out, as the generated SDK does.
  const props = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as pulumi.Inputs;
  return pulumi.runtime.invokeOutput<R>(token, props, withInvokeVersion(opts));
}

export function getDatacenter(args: GetDatacenterArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<GetDatacenterResult> {
  return invoke(FUNCTION_TOKENS.getDatacenter, args, opts);
}
export function getComputeCluster(args: GetComputeClusterArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<GetComputeClusterResult> {
  return invoke(FUNCTION_TOKENS.getComputeCluster, args, opts);
}
export function getDatastore(args: GetDatastoreArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<GetDatastoreResult> {
  return invoke(FUNCTION_TOKENS.getDatastore, args, opts);
}
export function getNetwork(args: GetNetworkArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<GetNetworkResult> {
  return invoke(FUNCTION_TOKENS.getNetwork, args, opts);
}
export function getVirtualMachine(args: GetVirtualMachineArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<GetVirtualMachineResult> {
  return invoke(FUNCTION_TOKENS.getVirtualMachine, args, opts);
}
