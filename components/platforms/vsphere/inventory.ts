import * as pulumi from '@pulumi/pulumi';
import type { ClusterContext, ProviderSources } from '../types';
import {
  Provider,
  VSPHERE_PACKAGE,
  getComputeCluster,
  getDatacenter,
  getDatastore,
  getNetwork,
  getVirtualMachine,
  type GetComputeClusterResult,
  type GetVirtualMachineResult,
} from './binding';
import type { VsphereCredentials } from './credentials';

/**
 * The cluster-wide vSphere objects every VM needs: the caller's vsphere
 * provider (or one built for the spec's vCenter with the caller's
 * credentials), and look-ups of the existing inventory the spec names
 * (datacenter, compute cluster, datastore, port group, template). mailfleet
 * creates none of these: they belong to the vSphere administrators.
 */
export interface Inventory {
  provider: pulumi.ProviderResource;
  datacenterId: pulumi.Output<string>;
  cluster: pulumi.Output<GetComputeClusterResult>;
  datastoreId: pulumi.Output<string>;
  networkId: pulumi.Output<string>;
  template: pulumi.Output<GetVirtualMachineResult>;
  /** VM folder (relative to the datacenter's VM root), or undefined for the root. */
  folder?: string;
}

export function openInventory(ctx: ClusterContext<'vsphere'>, parent: pulumi.Resource, providers: ProviderSources<VsphereCredentials>): Inventory {
  const p = ctx.spec.platform;
  const provider = providers.explicit(VSPHERE_PACKAGE) ?? createProvider(ctx, providers.credentials, parent);
  const opts = { provider, parent };
  const datacenterId = getDatacenter({ name: p.datacenter }, opts).apply((dc) => dc.id);
  return {
    provider,
    datacenterId,
    cluster: getComputeCluster({ name: p.cluster, datacenterId }, opts),
    datastoreId: getDatastore({ name: p.datastore, datacenterId }, opts).apply((d) => d.id),
    networkId: getNetwork({ name: p.network, datacenterId }, opts).apply((n) => n.id),
    template: getVirtualMachine({ name: p.template, datacenterId }, opts),
    folder: p.folder,
  };
}

/** The fallback provider: the spec's vCenter with the caller's credentials. */
function createProvider(ctx: ClusterContext<'vsphere'>, creds: VsphereCredentials | undefined, parent: pulumi.Resource): Provider {
  const p = ctx.spec.platform;
  if (!creds) {
    throw new pulumi.ResourceError(
      `no vSphere provider for ${p.server}: give the component one (opts.providers with a ${VSPHERE_PACKAGE} provider) or pass credentials.vsphere (user, password) so it builds one`,
      parent,
    );
  }
  return new Provider(
    `${ctx.name}-vsphere`,
    { vsphereServer: p.server, user: creds.user, password: creds.password, allowUnverifiedSsl: p.allowUnverifiedSsl },
    { parent },
  );
}
