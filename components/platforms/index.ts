import type { PlatformKind } from '../spec';
import { dockerAdapter } from './docker';
import { kubernetesAdapter } from './kubernetes';
import { proxmoxAdapter, proxmoxCredentialsFromStackConfig, type ProxmoxCredentials } from './proxmox';
import type { PlatformAdapter } from './types';
import { vsphereAdapter, vsphereCredentialsFromStackConfig, type VsphereCredentials } from './vsphere';

/**
 * Settings beyond the spec for the provider a platform adapter builds when
 * the caller gives none (only the platforms whose providers need credentials).
 */
export interface PlatformCredentials {
  proxmox?: ProxmoxCredentials;
  vsphere?: VsphereCredentials;
}

type CredentialsOf<K extends PlatformKind> = K extends keyof PlatformCredentials ? NonNullable<PlatformCredentials[K]> : never;

/** The platforms Pulumi can deploy to. `local` is run by `mailfleet up --local`, not Pulumi. */
export const ADAPTERS: { readonly [K in Exclude<PlatformKind, 'local'>]: PlatformAdapter<K, CredentialsOf<K>> } = {
  kubernetes: kubernetesAdapter,
  docker: dockerAdapter,
  proxmox: proxmoxAdapter,
  vsphere: vsphereAdapter,
};

/**
 * For stack programs: the credentials a platform's provider needs, from the
 * stack config keys its operators already know (`proxmoxve:apiToken`,
 * `vsphere:user`/`vsphere:password`, ...). Components never call this; a
 * stack program passes the result as MailClusterArgs.credentials. Throws a
 * RunError naming the missing key and the command that sets it.
 */
export function credentialsFromStackConfig(kind: PlatformKind): PlatformCredentials {
  switch (kind) {
    case 'proxmox':
      return { proxmox: proxmoxCredentialsFromStackConfig() };
    case 'vsphere':
      return { vsphere: vsphereCredentialsFromStackConfig() };
    default:
      return {};
  }
}

export type * from './types';
export type { ProxmoxCredentials, VsphereCredentials };
