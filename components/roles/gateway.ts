import type * as pulumi from '@pulumi/pulumi';
import { RoleComponent, type RoleArgs } from './role';

/**
 * The gateway members of a cluster — the edge: inbound MX with filters,
 * outbound queue — and the security appliances the spec deploys beside them
 * (`filters.antivirus.deploy` → clamd, `filters.spam.deploy` → rspamd), as
 * this component's children: `companions` holds them, `addresses` the
 * gateways'.
 */
export class Gateway extends RoleComponent {
  static readonly type = 'mailfleet:index:Gateway';
  constructor(name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    const appliances = args.appliances ?? [];
    super(Gateway.type, 'gateway', name, args, opts, (parent) => (appliances.length > 0 ? args.session.appliances({ appliances, namePrefix: name }, parent) : undefined));
  }
}
