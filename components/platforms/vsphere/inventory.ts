import * as pulumi from '@pulumi/pulumi';
import type { ClusterContext } from '../types';
import {
  Provider,
  getComputeCluster,
  getDatacenter,
  getDatastore,
  getNetwork,
  getVirtualMachine,
  type GetComputeClusterResult,
  type GetVirtualMachineResult,
} from './binding';

/**
 * The cluster-wide vSphere objects every VM needs: an explicit provider for
 * the spec's vCenter, and look-ups of the existing inventory the spec names
 * (datacenter, compute cluster, datastore, port group, template). mailfleet
 * creates none of these: they belong to the vSphere administrators.
 */
export interface Inventory {
  provider: Provider;
  datacenterId: pulumi.Output<string>;
  cluster: pulumi.Output<GetComputeClusterResult>;
  datastoreId: pulumi.Output<string>;
  networkId: pulumi.Output<string>;
  template: pulumi.Output<GetVirtualMachineResult>;
  /** VM folder (relative to the datacenter's VM root), or undefined for the root. */
  folder?: string;
}

/** Stack config keys of the vSphere provider that carry the credentials. */
export const CREDENTIAL_KEYS = { user: 'vsphere:user', password: 'vsphere:password' } as const;

/**
 * Reads the credentials synchronously so a missing one fails before anything
 * is created, naming the config key. The password is always a secret, even
 * when someone set it without --secret.
 */
export function readCredentials(parent: pulumi.Resource): { user: string; password: pulumi.Output<string> } {
  const config = new pulumi.Config('vsphere');
  const user = config.get('user');
  if (!user) {
    throw new pulumi.ResourceError(`stack config ${CREDENTIAL_KEYS.user} is not set: pulumi config set ${CREDENTIAL_KEYS.user} <vCenter user>`, parent);
  }
  const password = config.getSecret('password');
  if (password === undefined) {
    throw new pulumi.ResourceError(
      `stack config ${CREDENTIAL_KEYS.password} is not set: pulumi config set --secret ${CREDENTIAL_KEYS.password} <password>`,
      parent,
    );
  }
  return { user, password: pulumi.secret(password) };
}

export function openInventory(ctx: ClusterContext<'vsphere'>, parent: pulumi.Resource): Inventory {
  const p = ctx.spec.platform;
  const credentials = readCredentials(parent);
  const provider = new Provider(
    `${ctx.name}-vsphere`,
    { vsphereServer: p.server, user: credentials.user, password: credentials.password, allowUnverifiedSsl: p.allowUnverifiedSsl },
    { parent },
  );
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
