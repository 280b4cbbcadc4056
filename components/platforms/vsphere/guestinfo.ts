import { createHash } from 'node:crypto';
import { networkConfigV2, type NetworkConfigV2 } from '../../cloud-init';
import { ipv4ToInt } from '../../../mail-runtime/config';

/**
 * cloud-init on vSphere without guest customization: cloud-init's VMware
 * datasource (DataSourceVMware, cloud-init >= 21.3) reads the VM's
 * `guestinfo.*` extraConfig keys through VMware Tools. Metadata carries the
 * instance id, host name and the static network config; user data is the
 * `#cloud-config` document from components/cloud-init. Both are base64 so
 * YAML and PEM bytes survive the VMX key/value store untouched.
 *
 * Pure functions: the adapter calls them inside an apply and marks the result
 * secret (user data holds the cluster token, TLS key...).
 */

export const GUESTINFO = {
  userdata: 'guestinfo.userdata',
  userdataEncoding: 'guestinfo.userdata.encoding',
  metadata: 'guestinfo.metadata',
  metadataEncoding: 'guestinfo.metadata.encoding',
} as const;

/**
 * Name the guest gives its one NIC. Fixed (instead of whatever udev calls a
 * vmxnet3 NIC on this template: ens192, ens160...) so keepalived on the
 * load-balancer VMs can name the interface that carries the VIP. Not in the
 * kernel's `ethN` namespace, which a rename could race with.
 */
export const GUEST_INTERFACE = 'lan0';

export interface GuestNetwork {
  address: string;
  /** Subnet, e.g. 10.40.0.0/23: the prefix length comes from here. */
  cidr: string;
  gateway: string;
  dns: readonly string[];
  searchDomain?: string;
  /** The VM's static MAC (see staticMacAddress): what the NIC is matched by. */
  macAddress: string;
}

/** One ethernet of network config v2, matched by MAC and renamed to GUEST_INTERFACE. */
type MacMatchedEthernet = Omit<NetworkConfigV2['ethernets'][string], 'match' | 'set-name'> & {
  match: { macaddress: string };
  'set-name': string;
};

export interface GuestMetadata {
  /** cloud-init runs its per-instance modules again when this changes. */
  'instance-id': string;
  'local-hostname': string;
  /** Network config version 2 (cloud-init docs "Networking config Version 2"). */
  network: { version: 2; ethernets: Record<string, MacMatchedEthernet> };
}

/**
 * VMware's range for manually assigned MACs is 00:50:56:00:00:00 –
 * 00:50:56:3F:FF:FF; the low 22 bits of the VM's IPv4 address fill it, so
 * MACs are unique wherever addresses are unique within a /10 — every subnet
 * mailfleet addresses from.
 */
export function staticMacAddress(address: string): string {
  const n = ipv4ToInt(address) & 0x3fffff;
  const bytes = [0x00, 0x50, 0x56, (n >>> 16) & 0x3f, (n >>> 8) & 0xff, n & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Prefix length of a CIDR (`10.40.0.0/23` → 23). */
export function prefixOf(cidr: string): number {
  return Number(cidr.split('/')[1]);
}

/**
 * Two adjustments to the shared network config, both for cloud-init 22.4
 * (Debian 12), whose ifupdown/networkd renderers turn v2 into their own
 * model: a NIC matched only by a name glob is rendered under its config key
 * (`iface primary`, an interface that does not exist), so the NIC is matched
 * by its static MAC and renamed; and a route `to: default` is rejected as
 * "not a valid ip address" (accepted from 23.x), so the default route is
 * spelled 0.0.0.0/0, which every version reads.
 */
export const DEFAULT_ROUTE = '0.0.0.0/0';

/**
 * Metadata for one VM. The instance id is the host name plus a digest of
 * everything cloud-init is given: a changed config makes a new instance id,
 * so after the provider reboots the VM for the extraConfig change
 * (extraConfigRebootRequired, on by default) cloud-init applies the new
 * user data instead of skipping it as already done.
 */
export function guestMetadata(hostname: string, net: GuestNetwork, userData: string): GuestMetadata {
  const base = networkConfigV2({
    address: net.address,
    prefix: prefixOf(net.cidr),
    gateway: net.gateway,
    dns: net.dns,
    searchDomain: net.searchDomain,
  }).ethernets.primary!;
  const { match: _byName, 'set-name': _unused, routes, ...settings } = base;
  const network = {
    version: 2 as const,
    ethernets: {
      [GUEST_INTERFACE]: {
        ...settings,
        routes: routes.map((r) => ({ ...r, to: r.to === 'default' ? DEFAULT_ROUTE : r.to })),
        match: { macaddress: net.macAddress },
        'set-name': GUEST_INTERFACE,
      },
    },
  };
  const digest = createHash('sha256').update(userData).update('\0').update(JSON.stringify(network)).digest('hex').slice(0, 12);
  return { 'instance-id': `${hostname}-${digest}`, 'local-hostname': hostname, network };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The extraConfig entries that hand user data and metadata to cloud-init. */
export function guestinfoExtraConfig(userData: string, metadata: GuestMetadata): Record<string, string> {
  return {
    [GUESTINFO.userdata]: b64(userData),
    [GUESTINFO.userdataEncoding]: 'base64',
    // JSON is YAML: cloud-init's VMware datasource loads metadata with its JSON-or-YAML loader.
    [GUESTINFO.metadata]: b64(JSON.stringify(metadata)),
    [GUESTINFO.metadataEncoding]: 'base64',
  };
}

/** Inverse of guestinfoExtraConfig (mocks and tests). Throws when a key is missing or not base64. */
export function decodeGuestinfo(extraConfig: Record<string, unknown>): { userData: string; metadata: GuestMetadata } {
  const read = (key: string, encodingKey: string) => {
    const value = extraConfig[key];
    if (typeof value !== 'string') throw new Error(`extraConfig has no ${key}`);
    if (extraConfig[encodingKey] !== 'base64') throw new Error(`${encodingKey} is not base64`);
    return Buffer.from(value, 'base64').toString('utf8');
  };
  return {
    userData: read(GUESTINFO.userdata, GUESTINFO.userdataEncoding),
    metadata: JSON.parse(read(GUESTINFO.metadata, GUESTINFO.metadataEncoding)) as GuestMetadata,
  };
}
