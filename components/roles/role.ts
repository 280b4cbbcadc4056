import * as pulumi from '@pulumi/pulumi';
import type { PlatformSession, SecretStore, SharedVolume, Workload } from '../platforms/types';
import type { RenderedMember } from '../render';
import type { Role } from '../spec';

export interface RoleArgs {
  session: PlatformSession;
  members: readonly RenderedMember[];
  volume: SharedVolume;
  secretStore: SecretStore;
  size: { cpu: number; memoryMiB: number; diskGiB: number };
}

/**
 * Shared body of the role components (Hub, MailNode, Gateway, Proxy): a thin
 * ComponentResource whose children are what the platform makes for the role.
 */
export abstract class RoleComponent extends pulumi.ComponentResource {
  /** Member ids, in index order. */
  readonly memberIds: string[];
  /** Address of each member, in index order. */
  readonly addresses: pulumi.Output<string[]>;
  /** Platform resources of this role (for dependsOn). */
  readonly workload: Workload;

  protected constructor(type: string, role: Role, name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    this.memberIds = args.members.map((m) => m.memberId);
    this.workload = args.session.workload(
      { role, members: args.members, volume: args.volume, secretStore: args.secretStore, size: args.size },
      this,
    );
    this.addresses = pulumi.all(this.workload.addresses);
    this.registerOutputs({ memberIds: this.memberIds, addresses: this.addresses });
  }
}
