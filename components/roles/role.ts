import * as pulumi from '@pulumi/pulumi';
import type { PlatformSession, SecretStore, SharedVolume, Workload } from '../platforms/types';
import type { RenderedAppliance, RenderedMember } from '../render';
import type { Role } from '../spec';

export interface RoleArgs {
  session: PlatformSession;
  members: readonly RenderedMember[];
  volume: SharedVolume;
  secretStore: SecretStore;
  size: { cpu: number; memoryMiB: number; diskGiB: number };
  /** Gateways only: the clamd/rspamd appliances the spec deploys beside them (components/render.ts renderAppliances). */
  appliances?: readonly RenderedAppliance[];
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
  /** Resources a role runs beside its members (the gateways' appliances), when it has any. */
  readonly companions?: Workload;

  /**
   * `companions` creates what the role runs beside its members, as children
   * of the role component, before its outputs are registered.
   */
  protected constructor(
    type: string,
    role: Role,
    name: string,
    args: RoleArgs,
    opts?: pulumi.ComponentResourceOptions,
    companions?: (parent: RoleComponent) => Workload | undefined,
  ) {
    super(type, name, {}, opts);
    this.memberIds = args.members.map((m) => m.memberId);
    this.workload = args.session.workload(
      { role, members: args.members, volume: args.volume, secretStore: args.secretStore, size: args.size },
      this,
    );
    this.addresses = pulumi.all(this.workload.addresses);
    this.companions = companions?.(this);
    this.registerOutputs({
      memberIds: this.memberIds,
      addresses: this.addresses,
      ...(this.companions ? { companionAddresses: pulumi.all(this.companions.addresses) } : {}),
    });
  }
}
