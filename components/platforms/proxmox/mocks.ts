import type { MockOutputs } from '../../offline/mock-outputs';
import { unwrapSecrets } from '../../offline/capture';

/**
 * Offline fakes for what Proxmox computes: a VM's id, node, guest-agent
 * addresses (loopback + the static address from its ipConfig) and MAC; a
 * snippet's file name. HA objects echo their inputs.
 */

function staticAddress(inputs: Record<string, unknown>): string | undefined {
  const init = unwrapSecrets(inputs.initialization) as { ipConfigs?: { ipv4?: { address?: string } }[] } | undefined;
  return init?.ipConfigs?.[0]?.ipv4?.address?.split('/')[0];
}

function fakeMac(vmId: number): string {
  const hex = vmId.toString(16).padStart(6, '0').slice(-6);
  return `BC:24:11:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`.toUpperCase();
}

export const proxmoxMockOutputs: MockOutputs = (type, _name, inputs) => {
  switch (type) {
    case 'proxmoxve:index/vmLegacy:VmLegacy': {
      const vmId = typeof inputs.vmId === 'number' ? inputs.vmId : 100;
      const address = staticAddress(inputs);
      return {
        vmId,
        nodeName: inputs.nodeName,
        ipv4Addresses: [['127.0.0.1'], address ? [address] : []],
        networkInterfaceNames: ['lo', 'eth0'],
        macAddresses: ['00:00:00:00:00:00', fakeMac(vmId)],
      };
    }
    case 'proxmoxve:index/fileLegacy:FileLegacy': {
      const raw = unwrapSecrets(inputs.sourceRaw) as { fileName?: string } | undefined;
      return { fileName: raw?.fileName ?? 'snippet.yaml', fileSize: 1, fileModificationDate: '2024-01-01T00:00:00Z' };
    }
    default:
      return undefined;
  }
};
