import * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../mail-runtime/config';
import { openInventory } from '../platforms/vsphere/inventory';
import { createVm } from '../platforms/vsphere/vm';
import type { ClusterContext } from '../platforms/types';
import { vmAddress } from '../render';
import type { PlatformOf } from '../spec';
import type { PrimaryPower } from './contract';
import { CONTROLLER_CREDENTIAL_FILES, controllerId } from './controller';
import type { SiteBuild, SiteContext } from './types';
import { controllerSecretFiles, nfsMount, vmUserData } from './vm';

/**
 * A failover site on vSphere: the member VM cloned from the template and
 * configured by cloud-init through guestinfo (the cluster adapter's VM
 * builder). The provider cannot create a VM powered off (powerState is an
 * output only, shared/schemas/vsphere-provider.json facts), so the standby
 * VM's first boot installs the runtime, enables the member's unit without
 * starting it, and powers the guest off (cloud-init power_state, once per
 * instance); the controller's power-on then boots it into service.
 *
 * Power grant (least privilege): vSphere roles and permissions are not
 * resources of the provider version mailfleet binds, so the vCenter
 * administrators create a role with VirtualMachine.Interact.PowerOn and
 * VirtualMachine.Interact.PowerOff only, grant it to one principal on this
 * site's VM only (not propagated), and the stack passes that principal and
 * its password (FailoverSiteArgs.platform.vspherePowerUser; README runbook).
 */

const GUEST_PACKAGES = ['open-vm-tools'] as const;

export function vsphereSite(c: SiteContext): SiteBuild {
  const site = c.spec[c.side];
  const p = site.platform as PlatformOf<'vsphere'>;
  const powerUser = c.settings.vspherePowerUser;
  if (!powerUser) {
    throw new pulumi.ResourceError(
      `vsphere site "${site.site.name}": give the principal that holds the power-only role on this site's VM (FailoverSiteArgs.platform.vspherePowerUser; stack config mailfleet:powerUser and secret mailfleet:powerPassword)`,
      c.parent,
    );
  }
  const ctx = { name: c.name, spec: { name: c.spec.name, platform: p } } as unknown as ClusterContext<'vsphere'>;
  const inv = openInventory(ctx, c.parent, { explicit: () => undefined, perHost: {}, credentials: c.settings.vsphere });
  const storage = nfsMount(site.storage, `vsphere site "${site.site.name}"`, c.parent);
  const network = { cidr: p.addresses.cidr, gateway: p.addresses.gateway, dns: p.addresses.dns, searchDomain: p.addresses.searchDomain };
  const vm = createVm(
    inv,
    c.spec.name,
    {
      resourceName: `${c.name}-all-${c.member.index}`,
      hostname: c.member.memberId,
      purpose: c.running ? 'failover primary (all roles)' : 'failover cold standby (all roles; powered off until promoted)',
      address: c.member.address,
      size: site.member,
      userData: vmUserData({
        spec: c.spec,
        memberId: c.member.memberId,
        config: c.member.config,
        storage,
        secrets: c.secrets,
        domain: p.addresses.searchDomain,
        extraPackages: GUEST_PACKAGES,
        startNow: c.running,
        powerOffAfterFirstBoot: !c.running,
      }),
      network,
    },
    c.parent,
  );
  const endpoint = `https://${p.server}`;
  const power = vm.moid.apply((moid): PrimaryPower => ({ kind: 'vsphere', endpoint, vm: moid, username: powerUser.user }));
  const credential = pulumi.secret(pulumi.output(powerUser.password));
  return {
    resources: [inv.provider, vm],
    address: vm.id.apply(() => c.member.address),
    power,
    credential,
    standbyCredentialFile: CONTROLLER_CREDENTIAL_FILES.standby,
    controller(config: pulumi.Output<RuntimeConfig>, primaryCredential: pulumi.Output<string>): pulumi.Resource[] {
      const cid = controllerId(c.spec.name);
      const ctl = createVm(
        inv,
        c.spec.name,
        {
          resourceName: `${c.name}-controller`,
          hostname: cid,
          purpose: 'failover controller',
          address: vmAddress(p.addresses, 'hub', 1),
          size: { cpu: 1, memoryMiB: 1024, diskGiB: 16 },
          userData: vmUserData({ spec: c.spec, memberId: cid, config, storage, secrets: c.secrets, domain: p.addresses.searchDomain, extraPackages: GUEST_PACKAGES, secretFiles: controllerSecretFiles(primaryCredential, credential) }),
          network,
        },
        c.parent,
      );
      return [ctl];
    },
  };
}
