import * as pulumi from '@pulumi/pulumi';
import type { PlatformAdapter } from '../types';

/** Placeholder until the vsphere adapter lands: fails before creating anything. */
export const vsphereAdapter: PlatformAdapter<'vsphere'> = {
  kind: 'vsphere',
  open(_ctx, parent) {
    throw new pulumi.ResourceError('the vsphere platform adapter is not implemented yet', parent);
  },
};
