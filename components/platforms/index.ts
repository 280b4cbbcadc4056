import type { PlatformKind } from '../spec';
import { dockerAdapter } from './docker';
import { kubernetesAdapter } from './kubernetes';
import { proxmoxAdapter } from './proxmox';
import type { PlatformAdapter } from './types';
import { vsphereAdapter } from './vsphere';

/** The platforms Pulumi can deploy to. `local` is run by `mailfleet up --local`, not Pulumi. */
export const ADAPTERS: { readonly [K in Exclude<PlatformKind, 'local'>]: PlatformAdapter<K> } = {
  kubernetes: kubernetesAdapter,
  docker: dockerAdapter,
  proxmox: proxmoxAdapter,
  vsphere: vsphereAdapter,
};

export type * from './types';
export { CLIENT_PORTS } from './types';
