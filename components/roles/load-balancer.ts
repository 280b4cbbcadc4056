import * as pulumi from '@pulumi/pulumi';
import type { LoadBalancerArgs, LoadBalancerOut, PlatformSession } from '../platforms/types';

/** Spreads client connections over proxies (IMAP, POP3, submission) and gateways (SMTP). */
export class LoadBalancer extends pulumi.ComponentResource {
  static readonly type = 'mailfleet:index:LoadBalancer';
  readonly out: LoadBalancerOut;
  readonly address: pulumi.Output<string>;
  constructor(name: string, args: { session: PlatformSession } & LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(LoadBalancer.type, name, {}, opts);
    const { session, ...lb } = args;
    this.out = session.loadBalancer(lb, this);
    this.address = this.out.address;
    this.registerOutputs({ address: this.address });
  }
}
