import * as pulumi from '@pulumi/pulumi';
import type { PlatformAdapter } from '../types';

/** Placeholder until the docker adapter lands: fails before creating anything. */
export const dockerAdapter: PlatformAdapter<'docker'> = {
  kind: 'docker',
  open(_ctx, parent) {
    throw new pulumi.ResourceError('the docker platform adapter is not implemented yet', parent);
  },
};
