import type * as pulumi from '@pulumi/pulumi';
import { RoleComponent, type RoleArgs } from './role';

/** The hub members of a cluster — the cluster's brain: directory, placement, membership, admin API. */
export class Hub extends RoleComponent {
  static readonly type = 'mailfleet:index:Hub';
  constructor(name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Hub.type, 'hub', name, args, opts);
  }
}
