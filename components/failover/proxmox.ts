import * as proxmox from '@muhlba91/pulumi-proxmoxve';
import * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../mail-runtime/config';
import { VM_ADDRESS_BLOCKS, type PlatformOf } from '../spec';
import { vmAddress } from '../render';
import type { PrimaryPower } from './contract';
import { CONTROLLER_CREDENTIAL_FILES, controllerId } from './controller';
import type { SiteBuild, SiteContext } from './types';
import { controllerSecretFiles, nfsMount, vmUserData } from './vm';

/**
 * A failover site on Proxmox VE: the member VM cloned from the template
 * with a cloud-init snippet. The standby VM is created and never booted
 * (`started: false`, `onBoot: false`); cloud-init runs on its first boot,
 * when the controller promotes it. Failover members get no Proxmox HA
 * resource: HA would restart a fenced primary on another node, undoing the
 * fence (the pair's controller owns their power).
 *
 * Power grant (least privilege): a user `mailfleet-<pair>-<side>@pve`, a
 * role with VM.PowerMgmt and VM.Audit only, an API token with privilege
 * separation, and ACLs for both on `/vms/<vmid>` only. The token's secret
 * is the exported credential.
 */

const PRIVILEGES = ['VM.Audit', 'VM.PowerMgmt'] as const;
const GUEST_PACKAGES = ['qemu-guest-agent'] as const;

export function proxmoxSite(c: SiteContext): SiteBuild {
  const site = c.spec[c.side];
  const p = site.platform as PlatformOf<'proxmox'>;
  const creds = c.settings.proxmox;
  if (!creds) {
    throw new pulumi.ResourceError(`proxmox site "${site.site.name}": pass the Proxmox API token (FailoverSiteArgs.platform.proxmox; stack config proxmoxve:apiToken) so the component can build its provider`, c.parent);
  }
  const provider = new proxmox.Provider(
    `${c.name}-proxmox`,
    {
      endpoint: p.endpoint,
      insecure: p.insecure,
      apiToken: pulumi.secret(creds.apiToken),
      // Snippet uploads go over SSH (the Proxmox API cannot write snippets).
      ssh: { username: creds.ssh?.username ?? 'root', agent: creds.ssh?.privateKey === undefined, ...(creds.ssh?.privateKey !== undefined ? { privateKey: pulumi.secret(creds.ssh.privateKey) } : {}) },
    },
    { parent: c.parent },
  );
  const opts = (extra?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions => ({ parent: c.parent, provider, ...extra });
  const storage = nfsMount(site.storage, `proxmox site "${site.site.name}"`, c.parent);
  const node = p.nodes[0]!;
  const prefix = p.network.cidr.split('/')[1];

  const vm = (resourceName: string, hostname: string, vmId: number, address: string, size: { cpu: number; memoryMiB: number; diskGiB: number }, userData: pulumi.Output<string>, running: boolean, description: string) => {
    const fileName = `${hostname}-user-data.yaml`;
    const snippet = new proxmox.FileLegacy(
      `${resourceName}-user-data`,
      { nodeName: node, datastoreId: p.snippetsDatastore, contentType: 'snippets', sourceRaw: pulumi.secret(userData.apply((data) => ({ data, fileName }))), overwrite: true },
      opts(),
    );
    const machine = new proxmox.VmLegacy(
      resourceName,
      {
        name: hostname,
        nodeName: node,
        vmId,
        description,
        tags: ['mailfleet', c.spec.name, 'failover'],
        clone: { vmId: p.templateVmId, nodeName: p.templateNode ?? node, datastoreId: p.datastore, full: true, retries: 3 },
        onBoot: running,
        started: running,
        agent: { enabled: true, trim: true },
        operatingSystem: { type: 'l26' },
        cpu: { cores: Math.max(1, Math.ceil(size.cpu)), sockets: 1, type: 'x86-64-v2-AES' },
        memory: { dedicated: size.memoryMiB },
        disks: [{ interface: 'scsi0', datastoreId: p.datastore, size: size.diskGiB, discard: 'on', iothread: true, ssd: true }],
        scsiHardware: 'virtio-scsi-single',
        networkDevices: [{ bridge: p.bridge, model: 'virtio', ...(p.vlan !== undefined ? { vlanId: p.vlan } : {}) }],
        initialization: {
          datastoreId: p.datastore,
          ipConfigs: [{ ipv4: { address: `${address}/${prefix}`, gateway: p.network.gateway } }],
          dns: { servers: [...p.network.dns], ...(p.network.searchDomain ? { domain: p.network.searchDomain } : {}) },
          userDataFileId: snippet.id,
        },
        stopOnDestroy: true,
      },
      opts({ dependsOn: [snippet] }),
    );
    return { snippet, machine };
  };

  const vmId = p.firstVmId + VM_ADDRESS_BLOCKS.hub + 0;
  const member = vm(
    `${c.name}-all-${c.member.index}`,
    c.member.memberId,
    vmId,
    c.member.address,
    site.member,
    vmUserData({ spec: c.spec, memberId: c.member.memberId, config: c.member.config, storage, secrets: c.secrets, domain: p.network.searchDomain, extraPackages: GUEST_PACKAGES }),
    c.running,
    `mailfleet ${c.side} ${c.member.memberId} of failover pair ${c.spec.name}; ${c.running ? 'active' : 'cold standby: the failover controller powers it on'}. Managed by Pulumi.`,
  );

  // Least-privilege power grant on this VM only.
  const userId = `mailfleet-${c.spec.name}-${c.side}@pve`;
  const tokenName = 'failover';
  const user = new proxmox.UserLegacy(`${c.name}-power-user`, { userId, comment: `mailfleet failover controller: power of VM ${vmId} only`, enabled: true }, opts());
  const role = new proxmox.RoleLegacy(`${c.name}-power-role`, { roleId: `MailfleetPower-${c.spec.name}-${c.side}`, privileges: [...PRIVILEGES] }, opts());
  const token = new proxmox.user.TokenLegacy(`${c.name}-power-token`, { userId: user.userId, tokenName, privilegesSeparation: true, comment: 'mailfleet failover controller' }, opts({ additionalSecretOutputs: ['value'] }));
  const path = `/vms/${vmId}`;
  const powerTokenId = `${userId}!${tokenName}`;
  // With privilege separation a token holds the intersection of its own and its user's ACLs: grant both, on this VM only.
  const userAcl = new proxmox.AclLegacy(`${c.name}-power-acl-user`, { path, roleId: role.roleId, userId: user.userId, propagate: false }, opts({ dependsOn: [member.machine] }));
  const tokenAcl = new proxmox.AclLegacy(`${c.name}-power-acl-token`, { path, roleId: role.roleId, tokenId: powerTokenId, propagate: false }, opts({ dependsOn: [member.machine, token] }));
  const power: PrimaryPower = { kind: 'proxmox', endpoint: p.endpoint.replace(/\/+$/, ''), node, vmid: vmId, tokenId: powerTokenId };
  // The token's secret: the provider returns `user@realm!name=uuid` on some versions; the controller needs the uuid.
  const credential = pulumi.secret(token.value.apply((v) => (v ?? '').split('=').pop() ?? ''));

  return {
    resources: [provider, member.snippet, member.machine, user, role, token, userAcl, tokenAcl],
    address: member.machine.id.apply(() => c.member.address),
    power: pulumi.output(power),
    credential,
    standbyCredentialFile: CONTROLLER_CREDENTIAL_FILES.standby,
    controller(config: pulumi.Output<RuntimeConfig>, primaryCredential: pulumi.Output<string>): pulumi.Resource[] {
      const cid = controllerId(c.spec.name);
      const ctl = vm(
        `${c.name}-controller`,
        cid,
        p.firstVmId + VM_ADDRESS_BLOCKS.hub + 1,
        vmAddress(p.network, 'hub', 1),
        { cpu: 1, memoryMiB: 1024, diskGiB: 16 },
        vmUserData({
          spec: c.spec,
          memberId: cid,
          config,
          storage,
          secrets: c.secrets,
          domain: p.network.searchDomain,
          extraPackages: GUEST_PACKAGES,
          secretFiles: controllerSecretFiles(primaryCredential, credential),
        }),
        true,
        `mailfleet failover controller of pair ${c.spec.name} at site ${site.site.name}. Managed by Pulumi.`,
      );
      return [ctl.snippet, ctl.machine];
    },
  };
}
