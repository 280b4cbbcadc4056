import * as pulumi from '@pulumi/pulumi';
import type { PlatformSession, SharedVolume } from '../platforms/types';

/** The storage every member mounts: mailboxes, hub state, gateway queues. */
export class SharedStorage extends pulumi.ComponentResource {
  static readonly type = 'mailfleet:index:SharedStorage';
  readonly volume: SharedVolume;
  readonly description: pulumi.Output<string>;
  constructor(name: string, args: { session: PlatformSession }, opts?: pulumi.ComponentResourceOptions) {
    super(SharedStorage.type, name, {}, opts);
    this.volume = args.session.volume(this);
    this.description = this.volume.description;
    this.registerOutputs({ description: this.description });
  }
}
