import * as pulumi from '@pulumi/pulumi';
import { declareOutputs, keysOf, pickInputs, withPluginVersion } from './plugin';

/**
 * `vsphere:index/virtualMachine:VirtualMachine`, the subset of its inputs
 * mailfleet needs (plus the obvious neighbours), with the schema's names.
 * Nested types carry their schema token in the TSDoc.
 */

/** `vsphere:index/VirtualMachineCloneCustomizeLinuxOptions:VirtualMachineCloneCustomizeLinuxOptions` */
export interface VirtualMachineCloneCustomizeLinuxOptions {
  domain: pulumi.Input<string>;
  hostName: pulumi.Input<string>;
  hwClockUtc?: pulumi.Input<boolean>;
  timeZone?: pulumi.Input<string>;
  /** A secret in the schema. */
  scriptText?: pulumi.Input<string>;
}

/** `vsphere:index/VirtualMachineCloneCustomizeNetworkInterface:VirtualMachineCloneCustomizeNetworkInterface` */
export interface VirtualMachineCloneCustomizeNetworkInterface {
  dnsDomain?: pulumi.Input<string>;
  dnsServerLists?: pulumi.Input<pulumi.Input<string>[]>;
  ipv4Address?: pulumi.Input<string>;
  ipv4Netmask?: pulumi.Input<number>;
  ipv6Address?: pulumi.Input<string>;
  ipv6Netmask?: pulumi.Input<number>;
}

/** `vsphere:index/VirtualMachineCloneCustomize:VirtualMachineCloneCustomize` (VMware guest customization; mailfleet uses cloud-init instead). */
export interface VirtualMachineCloneCustomize {
  dnsServerLists?: pulumi.Input<pulumi.Input<string>[]>;
  dnsSuffixLists?: pulumi.Input<pulumi.Input<string>[]>;
  ipv4Gateway?: pulumi.Input<string>;
  ipv6Gateway?: pulumi.Input<string>;
  linuxOptions?: pulumi.Input<VirtualMachineCloneCustomizeLinuxOptions>;
  networkInterfaces?: pulumi.Input<pulumi.Input<VirtualMachineCloneCustomizeNetworkInterface>[]>;
  timeout?: pulumi.Input<number>;
}

/** `vsphere:index/VirtualMachineClone:VirtualMachineClone` */
export interface VirtualMachineClone {
  /** UUID of the template (the `id` of getVirtualMachine). */
  templateUuid: pulumi.Input<string>;
  linkedClone?: pulumi.Input<boolean>;
  /** Minutes to wait for the clone. */
  timeout?: pulumi.Input<number>;
  customize?: pulumi.Input<VirtualMachineCloneCustomize>;
}

/** `vsphere:index/VirtualMachineDisk:VirtualMachineDisk` */
export interface VirtualMachineDisk {
  /** Required: the provider tracks disks by label. */
  label: pulumi.Input<string>;
  /** GiB. A clone's disk may grow, never shrink below the template's. */
  size?: pulumi.Input<number>;
  thinProvisioned?: pulumi.Input<boolean>;
  eagerlyScrub?: pulumi.Input<boolean>;
  unitNumber?: pulumi.Input<number>;
  datastoreId?: pulumi.Input<string>;
  storagePolicyId?: pulumi.Input<string>;
  keepOnRemove?: pulumi.Input<boolean>;
  controllerType?: pulumi.Input<string>;
  diskMode?: pulumi.Input<string>;
}

/** `vsphere:index/VirtualMachineNetworkInterface:VirtualMachineNetworkInterface` */
export interface VirtualMachineNetworkInterface {
  networkId: pulumi.Input<string>;
  /** `vmxnet3`, `e1000e`, ...: use the template's so the guest keeps its driver and interface name. */
  adapterType?: pulumi.Input<string>;
  useStaticMac?: pulumi.Input<boolean>;
  macAddress?: pulumi.Input<string>;
  bandwidthShareLevel?: pulumi.Input<string>;
}

export interface VirtualMachineArgs {
  /** Required: where the VM runs (a cluster's root pool from getComputeCluster). */
  resourcePoolId: pulumi.Input<string>;
  /** Inventory name; auto-named by Pulumi when absent. */
  name?: pulumi.Input<string>;
  datastoreId?: pulumi.Input<string>;
  datacenterId?: pulumi.Input<string>;
  /** VM folder path relative to the datacenter's VM root. */
  folder?: pulumi.Input<string>;
  hostSystemId?: pulumi.Input<string>;
  numCpus?: pulumi.Input<number>;
  numCoresPerSocket?: pulumi.Input<number>;
  /** MiB. */
  memory?: pulumi.Input<number>;
  memoryReservation?: pulumi.Input<number>;
  cpuHotAddEnabled?: pulumi.Input<boolean>;
  memoryHotAddEnabled?: pulumi.Input<boolean>;
  guestId?: pulumi.Input<string>;
  firmware?: pulumi.Input<string>;
  scsiType?: pulumi.Input<string>;
  enableDiskUuid?: pulumi.Input<boolean>;
  annotation?: pulumi.Input<string>;
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  customAttributes?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** VMX `key = value` pairs; guestinfo.* keys reach the guest (cloud-init's VMware datasource). */
  extraConfig?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  extraConfigRebootRequired?: pulumi.Input<boolean>;
  clone?: pulumi.Input<VirtualMachineClone>;
  disks?: pulumi.Input<pulumi.Input<VirtualMachineDisk>[]>;
  networkInterfaces?: pulumi.Input<pulumi.Input<VirtualMachineNetworkInterface>[]>;
  /** Minutes to wait for an IP the guest reports through VMware Tools (0 disables). */
  waitForGuestNetTimeout?: pulumi.Input<number>;
  waitForGuestNetRoutable?: pulumi.Input<boolean>;
  waitForGuestIpTimeout?: pulumi.Input<number>;
  /** Minutes to wait for a clean guest shutdown before powering off. */
  shutdownWaitTimeout?: pulumi.Input<number>;
  forcePowerOff?: pulumi.Input<boolean>;
  syncTimeWithHost?: pulumi.Input<boolean>;
  toolsUpgradePolicy?: pulumi.Input<string>;
}

export const VIRTUAL_MACHINE_INPUTS = keysOf<VirtualMachineArgs>()(
  'resourcePoolId',
  'name',
  'datastoreId',
  'datacenterId',
  'folder',
  'hostSystemId',
  'numCpus',
  'numCoresPerSocket',
  'memory',
  'memoryReservation',
  'cpuHotAddEnabled',
  'memoryHotAddEnabled',
  'guestId',
  'firmware',
  'scsiType',
  'enableDiskUuid',
  'annotation',
  'tags',
  'customAttributes',
  'extraConfig',
  'extraConfigRebootRequired',
  'clone',
  'disks',
  'networkInterfaces',
  'waitForGuestNetTimeout',
  'waitForGuestNetRoutable',
  'waitForGuestIpTimeout',
  'shutdownWaitTimeout',
  'forcePowerOff',
  'syncTimeWithHost',
  'toolsUpgradePolicy',
);

/** Output-only properties this binding exposes (schema `outputOnly`). */
export const VIRTUAL_MACHINE_OUTPUTS = ['uuid', 'moid', 'defaultIpAddress', 'guestIpAddresses', 'powerState', 'vmxPath'] as const;

/** Names of the nested types, for the conformance test (schema type token → names). */
export const VIRTUAL_MACHINE_TYPES = {
  'vsphere:index/VirtualMachineClone:VirtualMachineClone': keysOf<VirtualMachineClone>()('templateUuid', 'linkedClone', 'timeout', 'customize'),
  'vsphere:index/VirtualMachineCloneCustomize:VirtualMachineCloneCustomize': keysOf<VirtualMachineCloneCustomize>()(
    'dnsServerLists',
    'dnsSuffixLists',
    'ipv4Gateway',
    'ipv6Gateway',
    'linuxOptions',
    'networkInterfaces',
    'timeout',
  ),
  'vsphere:index/VirtualMachineCloneCustomizeLinuxOptions:VirtualMachineCloneCustomizeLinuxOptions': keysOf<VirtualMachineCloneCustomizeLinuxOptions>()(
    'domain',
    'hostName',
    'hwClockUtc',
    'timeZone',
    'scriptText',
  ),
  'vsphere:index/VirtualMachineCloneCustomizeNetworkInterface:VirtualMachineCloneCustomizeNetworkInterface': keysOf<VirtualMachineCloneCustomizeNetworkInterface>()(
    'dnsDomain',
    'dnsServerLists',
    'ipv4Address',
    'ipv4Netmask',
    'ipv6Address',
    'ipv6Netmask',
  ),
  'vsphere:index/VirtualMachineDisk:VirtualMachineDisk': keysOf<VirtualMachineDisk>()(
    'label',
    'size',
    'thinProvisioned',
    'eagerlyScrub',
    'unitNumber',
    'datastoreId',
    'storagePolicyId',
    'keepOnRemove',
    'controllerType',
    'diskMode',
  ),
  'vsphere:index/VirtualMachineNetworkInterface:VirtualMachineNetworkInterface': keysOf<VirtualMachineNetworkInterface>()(
    'networkId',
    'adapterType',
    'useStaticMac',
    'macAddress',
    'bandwidthShareLevel',
  ),
} as const;

/** A virtual machine, here always cloned from a template. */
export class VirtualMachine extends pulumi.CustomResource {
  static readonly __pulumiType = 'vsphere:index/virtualMachine:VirtualMachine';

  declare readonly name: pulumi.Output<string>;
  declare readonly resourcePoolId: pulumi.Output<string>;
  declare readonly extraConfig: pulumi.Output<Record<string, string> | undefined>;
  /** The VM's BIOS UUID. */
  declare readonly uuid: pulumi.Output<string>;
  /** Managed object id (`vm-1234`). */
  declare readonly moid: pulumi.Output<string>;
  /** The first IP VMware Tools reports. */
  declare readonly defaultIpAddress: pulumi.Output<string>;
  declare readonly guestIpAddresses: pulumi.Output<string[]>;
  declare readonly powerState: pulumi.Output<string>;
  declare readonly vmxPath: pulumi.Output<string>;

  constructor(name: string, args: VirtualMachineArgs, opts?: pulumi.CustomResourceOptions) {
    if (args.resourcePoolId === undefined) {
      throw new pulumi.ResourceError(`VirtualMachine ${name}: resourcePoolId is required`, opts?.parent);
    }
    const props = declareOutputs(pickInputs(args, VIRTUAL_MACHINE_INPUTS), VIRTUAL_MACHINE_OUTPUTS);
    super(VirtualMachine.__pulumiType, name, props as pulumi.Inputs, withPluginVersion(opts));
  }
}
