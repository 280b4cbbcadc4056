import * as pulumi from '@pulumi/pulumi';
import type { PlatformAdapter } from '../types';

/** Placeholder until the proxmox adapter lands: fails before creating anything. */
export const proxmoxAdapter: PlatformAdapter<'proxmox'> = {
  kind: 'proxmox',
  open(_ctx, parent) {
    throw new pulumi.ResourceError('the proxmox platform adapter is not implemented yet', parent);
  },
};
