import { createHash } from 'node:crypto';
import { unwrapSecrets } from '../../offline/capture';
import type { MockOutputs } from '../../offline/mock-outputs';
import { FUNCTION_TOKENS, VirtualMachine } from './binding';
import { decodeGuestinfo } from './guestinfo';

/**
 * Offline stand-ins for what vCenter computes, deterministic so previews and
 * snapshots are stable: VM UUIDs, managed object ids, the address the guest
 * reports (taken from the metadata the VM was given), and data-source results
 * shaped like a real inventory with a Debian 12 template.
 */

const digest = (s: string) => createHash('sha256').update(s).digest('hex');
const uuidOf = (s: string) => {
  const h = digest(s);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

function addressFromExtraConfig(extraConfig: unknown): string | undefined {
  try {
    const { metadata } = decodeGuestinfo(unwrapSecrets(extraConfig) as Record<string, unknown>);
    const eth = Object.values(metadata.network.ethernets)[0];
    return eth?.addresses[0]?.split('/')[0];
  } catch {
    return undefined;
  }
}

export const vsphereMockOutputs: MockOutputs = (type, name, inputs) => {
  if (type !== VirtualMachine.__pulumiType) return undefined;
  const address = addressFromExtraConfig(inputs.extraConfig);
  return {
    uuid: uuidOf(name),
    moid: `vm-${parseInt(digest(name).slice(0, 6), 16) % 100000}`,
    powerState: 'on',
    vmxPath: `[datastore] ${name}/${name}.vmx`,
    ...(address ? { defaultIpAddress: address, guestIpAddresses: [address] } : {}),
  };
};

/** Data-source results (pass as `invokeResult` to installCapture). */
export function vsphereMockInvokes(token: string, args: Record<string, unknown>): Record<string, unknown> | undefined {
  const name = typeof args.name === 'string' ? args.name : 'default';
  switch (token) {
    case FUNCTION_TOKENS.getDatacenter:
      return { id: `datacenter-${digest(name).slice(0, 4)}`, name, virtualMachines: [] };
    case FUNCTION_TOKENS.getComputeCluster:
      return { id: `domain-c${parseInt(digest(name).slice(0, 4), 16)}`, name, datacenterId: args.datacenterId, resourcePoolId: `resgroup-${parseInt(digest(name).slice(4, 8), 16)}` };
    case FUNCTION_TOKENS.getDatastore:
      return { id: `datastore-${parseInt(digest(name).slice(0, 4), 16)}`, name, datacenterId: args.datacenterId };
    case FUNCTION_TOKENS.getNetwork:
      return { id: `dvportgroup-${parseInt(digest(name).slice(0, 4), 16)}`, name, type: 'DistributedVirtualPortgroup', datacenterId: args.datacenterId };
    case FUNCTION_TOKENS.getVirtualMachine: {
      const uuid = uuidOf(`template:${name}`);
      return {
        id: uuid,
        uuid,
        moid: `vm-${parseInt(digest(name).slice(0, 4), 16)}`,
        name,
        guestId: 'debian12_64Guest',
        scsiType: 'pvscsi',
        firmware: 'efi',
        disks: [{ label: 'Hard disk 1', size: 16, thinProvisioned: true, eagerlyScrub: false, unitNumber: 0 }],
        networkInterfaceTypes: ['vmxnet3'],
        numCpus: 2,
        memory: 2048,
      };
    }
    default:
      return undefined;
  }
}
