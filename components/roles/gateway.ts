import type * as pulumi from '@pulumi/pulumi';
import { RoleComponent, type RoleArgs } from './role';

/** The gateway members of a cluster — the edge: inbound MX with filters, outbound queue. */
export class Gateway extends RoleComponent {
  static readonly type = 'mailfleet:index:Gateway';
  constructor(name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Gateway.type, 'gateway', name, args, opts);
  }
}
