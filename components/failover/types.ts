import type * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../mail-runtime/config';
import type { ClusterSecrets } from '../platforms/types';
import type { RenderedMember } from '../render';
import type { FailoverPairSpec } from '../spec';
import type { PrimaryPower } from './contract';

/** One site of a failover pair, as each platform's builder (./<kind>.ts) gets it. */
export interface SiteContext {
  /** Component name: prefix of every child (`${name}-all-<i>`, `${name}-controller`). */
  name: string;
  spec: FailoverPairSpec;
  side: 'primary' | 'standby';
  /** This site's all-roles member (render.ts). */
  member: RenderedMember;
  secrets: ClusterSecrets;
  /** False for the standby: created but stopped until the controller promotes it. */
  running: boolean;
  /** Site settings the spec does not hold (FailoverSiteArgs.platform). */
  settings: SiteSettings;
  parent: pulumi.ComponentResource;
}

/** Per-site settings beyond the spec; each platform documents what it needs. */
export interface SiteSettings {
  /**
   * How the other site's controller reaches this site's platform API:
   * Kubernetes API server URL (required on kubernetes), Docker engine URL
   * (default: the site's first Docker host when it is http(s)).
   */
  powerEndpoint?: string;
  /**
   * Docker: the client certificate bundle of this site's Engine API over
   * TCP with `--tlsverify` (PEM: the engine's CA, a client certificate it
   * signed, that certificate's key), as Pulumi secrets. This stack's docker
   * provider uses it; on the primary it is also the power credential the
   * standby's controller fences this host with (exported as a secret,
   * mounted into the controller as three files). Absent with an https://
   * endpoint: the controller cannot complete the handshake, so the stack warns.
   */
  dockerTls?: { caPem: pulumi.Input<string>; certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  /** Proxmox provider credentials / vSphere provider credentials (as MailClusterArgs.credentials). */
  proxmox?: { apiToken: pulumi.Input<string>; ssh?: { username?: string; privateKey?: pulumi.Input<string> } };
  vsphere?: { user: pulumi.Input<string>; password: pulumi.Input<string> };
  /**
   * vSphere: the vCenter principal the administrators granted the power-only
   * role on this site's VM, and its password (a secret). vSphere roles and
   * permissions are not resources of the provider version we bind.
   */
  vspherePowerUser?: { user: string; password: pulumi.Input<string> };
}

export interface SiteBuild {
  resources: pulumi.Resource[];
  /** The member's address once it exists. */
  address: pulumi.Output<string>;
  /** How a controller powers this site's member on and off. */
  power: pulumi.Output<PrimaryPower>;
  /** The least-privilege credential for `power`; a Pulumi secret. */
  credential: pulumi.Output<string>;
  /** Where the controller at this site reads this site's own power credential. */
  standbyCredentialFile: string;
  /** The controller at this (standby) site, with the primary's credential and its config. */
  controller(config: pulumi.Output<RuntimeConfig>, primaryCredential: pulumi.Output<string>): pulumi.Resource[];
}
