import * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../mail-runtime/config';
import { renderMemberUserData, requiredSecrets, type NfsMount, type WriteFile } from '../cloud-init';
import { cloudInitSecrets } from '../platforms/proxmox/secrets';
import type { ClusterSecrets } from '../platforms/types';
import type { FailoverPairSpec, Storage } from '../spec';
import { CONTROLLER_CREDENTIAL_FILES } from './controller';

/** What VM sites (Proxmox, vSphere) share: cloud-init user data for the member and the controller. */

export function nfsMount(storage: Storage, what: string, parent: pulumi.Resource): NfsMount {
  if (storage.kind !== 'nfs') throw new pulumi.ResourceError(`${what}: storage.kind "${storage.kind}" is not available on VMs; use nfs`, parent);
  return { server: storage.server, path: storage.path, options: storage.options };
}

export interface VmUserDataArgs {
  spec: FailoverPairSpec;
  memberId: string;
  config: pulumi.Input<RuntimeConfig>;
  storage: NfsMount;
  secrets: ClusterSecrets;
  domain?: string;
  extraPackages: readonly string[];
  /** Files with secret content (the controller's power credentials), by guest path. */
  secretFiles?: Record<string, pulumi.Input<string>>;
  startNow?: boolean;
  powerOffAfterFirstBoot?: boolean;
}

/** A VM's cloud-config, a Pulumi secret as a whole (it carries secret files). */
export function vmUserData(a: VmUserDataArgs): pulumi.Output<string> {
  const secretInputs = cloudInitSecrets(a.secrets);
  return pulumi.secret(
    pulumi.all([pulumi.output(a.config), pulumi.all(secretInputs), pulumi.all(a.secretFiles ?? {})]).apply(([config, secrets, files]) => {
      const needed = requiredSecrets(config);
      const extraFiles: WriteFile[] = Object.entries(files).map(([path, content]) => ({ path, content, permissions: '0600', owner: 'mailfleet:mailfleet', defer: true }));
      return renderMemberUserData({
        member: { memberId: a.memberId, role: config.role, config },
        storage: a.storage,
        runtime: { packageUrl: a.spec.runtime.packageUrl, sha256: a.spec.runtime.sha256, nodeMajor: a.spec.runtime.nodeMajor },
        secrets: Object.fromEntries(needed.map((n) => [n, secrets[n]])),
        domain: a.domain,
        extraPackages: a.extraPackages,
        extraFiles,
        startNow: a.startNow,
        powerOffAfterFirstBoot: a.powerOffAfterFirstBoot,
      });
    }),
  );
}

/** The controller VM's credential files: the primary's, and this site's own. */
export function controllerSecretFiles(primary: pulumi.Output<string>, standby: pulumi.Output<string>): Record<string, pulumi.Output<string>> {
  return { [CONTROLLER_CREDENTIAL_FILES.primary]: primary, [CONTROLLER_CREDENTIAL_FILES.standby]: standby };
}
