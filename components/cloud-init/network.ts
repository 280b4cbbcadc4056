import { emitYaml } from './document';

/**
 * Netplan-style network config, version 2 (cloud-init "Networking Config
 * Version 2"), for platforms that pass network config separately from user
 * data (vSphere guestinfo, a Proxmox `networkDataFileId`). Proxmox's own
 * `ipConfig` renders the same thing, so the Proxmox adapter does not need it.
 */

export interface StaticNetworkArgs {
  address: string;
  /** Prefix length of the subnet (24 for a /24). */
  prefix: number;
  gateway: string;
  dns: readonly string[];
  searchDomain?: string;
  /**
   * Which NIC: matched by interface name glob; default `e*` (the single
   * virtio/vmxnet3 NIC of a cloned template, whatever udev names it).
   */
  interfaceMatch?: string;
}

export interface NetworkConfigV2 {
  version: 2;
  ethernets: Record<string, {
    match: { name: string };
    'set-name'?: string;
    dhcp4: boolean;
    addresses: string[];
    routes: { to: string; via: string }[];
    nameservers: { addresses: string[]; search?: string[] };
  }>;
}

export function networkConfigV2(a: StaticNetworkArgs): NetworkConfigV2 {
  return {
    version: 2,
    ethernets: {
      primary: {
        match: { name: a.interfaceMatch ?? 'e*' },
        dhcp4: false,
        addresses: [`${a.address}/${a.prefix}`],
        // cloud-init 22.4 (Debian 12) rejects the netplan alias `default` as a route target.
        routes: [{ to: '0.0.0.0/0', via: a.gateway }],
        nameservers: { addresses: [...a.dns], ...(a.searchDomain ? { search: [a.searchDomain] } : {}) },
      },
    },
  };
}

/** The network-config document as YAML text. */
export function renderNetworkConfig(a: StaticNetworkArgs): string {
  return emitYaml(networkConfigV2(a));
}
