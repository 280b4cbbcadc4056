import * as proxmox from '@muhlba91/pulumi-proxmoxve';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterSpec, PlatformOf } from '../../spec';
import { haResource, haRules, type HaSetup } from './ha';

/**
 * One mailfleet VM on Proxmox: its cloud-init snippet(s), the VM cloned from
 * the template, and its HA resource. Shared by members (workload.ts) and the
 * HAProxy VMs (load-balancer.ts).
 */

export type ProxmoxSpec = ClusterSpec & { platform: PlatformOf<'proxmox'> };

/** What the session gives every VM builder. */
export interface ProxmoxBase {
  name: string;
  spec: ProxmoxSpec;
  provider: pulumi.ProviderResource;
  /** The HA group (Proxmox VE 8), or the marker that HA rules are made per role (9). */
  ha: HaSetup;
}

export interface VmArgs {
  /** Pulumi resource name prefix (`${name}-<role>-<i>`). */
  resourceName: string;
  /** Guest host name and Proxmox VM name. */
  hostname: string;
  /** Proxmox node the VM is placed on. */
  node: string;
  vmId: number;
  address: string;
  size: { cpu: number; memoryMiB: number; diskGiB: number };
  /** cloud-config user data; a Pulumi secret whenever it carries secrets. */
  userData: pulumi.Output<string>;
  tags: string[];
  description: string;
}

export interface ProxmoxVm {
  vmId: number;
  vm: proxmox.VmLegacy;
  snippets: proxmox.FileLegacy[];
  ha: proxmox.Haresource;
  resources: pulumi.Resource[];
  /** The VM's static address, available once the VM exists. */
  address: pulumi.Output<string>;
}

/** Round-robin placement: member i of a role goes to nodes[i % n], so members of a role share a host only when there are fewer hosts than members. */
export function nodeFor(nodes: readonly string[], index: number): string {
  return nodes[index % nodes.length]!;
}

/**
 * The datastore named `local` is node-local on every Proxmox install. A VM
 * whose cicustom snippet is missing on the node HA restarts it on cannot
 * start, so on `local` the snippet is uploaded to every node of the HA group;
 * on a shared datastore (CephFS, NFS with the snippets content type) once.
 */
export function snippetNodes(spec: ProxmoxSpec, home: string): string[] {
  return spec.platform.snippetsDatastore === 'local' ? [...spec.platform.nodes] : [home];
}

export function prefixLength(cidr: string): number {
  return Number(cidr.split('/')[1]);
}

export function createVm(base: ProxmoxBase, a: VmArgs, parent: pulumi.Resource): ProxmoxVm {
  const { spec, provider } = base;
  const p = spec.platform;
  const opts: pulumi.CustomResourceOptions = { parent, provider };
  const fileName = `${a.hostname}-user-data.yaml`;

  const homes = snippetNodes(spec, a.node);
  const snippets = homes.map(
    (node) =>
      new proxmox.FileLegacy(
        homes.length === 1 ? `${a.resourceName}-user-data` : `${a.resourceName}-user-data-${node}`,
        {
          nodeName: node,
          datastoreId: p.snippetsDatastore,
          contentType: 'snippets',
          // The whole object is secret: the user data carries secret files.
          sourceRaw: pulumi.secret(pulumi.output(a.userData).apply((data) => ({ data, fileName }))),
          overwrite: true,
        },
        opts,
      ),
  );
  // The home node's copy is the one the VM references (same volume id on every node).
  const userDataFile = snippets[homes.indexOf(a.node) >= 0 ? homes.indexOf(a.node) : 0]!;

  const vm = new proxmox.VmLegacy(
    a.resourceName,
    {
      name: a.hostname,
      nodeName: a.node,
      vmId: a.vmId,
      description: a.description,
      tags: a.tags,
      clone: { vmId: p.templateVmId, nodeName: p.templateNode ?? p.nodes[0], datastoreId: p.datastore, full: true, retries: 3 },
      // Restart after a host reboot; HA restarts it elsewhere after a host failure.
      onBoot: true,
      started: true,
      agent: { enabled: true, trim: true },
      operatingSystem: { type: 'l26' },
      cpu: { cores: Math.max(1, Math.ceil(a.size.cpu)), sockets: 1, type: 'x86-64-v2-AES' },
      memory: { dedicated: a.size.memoryMiB },
      disks: [{ interface: 'scsi0', datastoreId: p.datastore, size: a.size.diskGiB, discard: 'on', iothread: true, ssd: true }],
      scsiHardware: 'virtio-scsi-single',
      networkDevices: [{ bridge: p.bridge, model: 'virtio', ...(p.vlan !== undefined ? { vlanId: p.vlan } : {}) }],
      initialization: {
        datastoreId: p.datastore,
        ipConfigs: [{ ipv4: { address: `${a.address}/${prefixLength(p.network.cidr)}`, gateway: p.network.gateway } }],
        dns: { servers: [...p.network.dns], ...(p.network.searchDomain ? { domain: p.network.searchDomain } : {}) },
        userDataFileId: userDataFile.id,
      },
      stopOnDestroy: true,
    },
    { ...opts, dependsOn: snippets },
  );

  const ha = haResource(base.ha, a, { ...opts, dependsOn: [vm] });

  return { vmId: a.vmId, vm, snippets, ha, resources: [...snippets, vm, ha], address: vm.id.apply(() => a.address) };
}

/** The VMs of one role (`lb` for the HAProxy VMs) with their HA rules on Proxmox VE 9 (./ha.ts). */
export function roleResources(base: ProxmoxBase, role: string, vms: readonly ProxmoxVm[], parent: pulumi.Resource): pulumi.Resource[] {
  const rules = haRules(base.ha, base, role, vms, { parent, provider: base.provider });
  return [...vms.flatMap((v) => v.resources), ...rules];
}
