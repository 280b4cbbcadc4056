import * as pulumi from '@pulumi/pulumi';
import type { PlatformAdapter } from '../types';

/** Placeholder until the kubernetes adapter lands: fails before creating anything. */
export const kubernetesAdapter: PlatformAdapter<'kubernetes'> = {
  kind: 'kubernetes',
  open(_ctx, parent) {
    throw new pulumi.ResourceError('the kubernetes platform adapter is not implemented yet', parent);
  },
};
