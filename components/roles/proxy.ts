import type * as pulumi from '@pulumi/pulumi';
import { RoleComponent, type RoleArgs } from './role';

/** The proxy members of a cluster — login-aware routing of client sessions to the owning node. */
export class Proxy extends RoleComponent {
  static readonly type = 'mailfleet:index:Proxy';
  constructor(name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Proxy.type, 'proxy', name, args, opts);
  }
}
