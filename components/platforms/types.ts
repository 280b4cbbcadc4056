import type * as pulumi from '@pulumi/pulumi';
import type { RuntimeRole } from '../../mail-runtime/config';
import type { InternalLeafRole, RenderedAppliance, RenderedMember } from '../render';
import type { ClusterSpec, PlatformKind, PlatformOf, Role } from '../spec';

/**
 * The contract every platform adapter (components/platforms/<kind>/) fulfils.
 * Each adapter has the same file set — workload.ts, volume.ts,
 * load-balancer.ts, secrets.ts, index.ts — and knows nothing of the others.
 * A new platform is a new folder plus one line in ./index.ts.
 */

/** Cluster-wide secrets, all Pulumi secrets. */
export interface ClusterSecrets {
  adminToken: pulumi.Output<string>;
  clusterToken: pulumi.Output<string>;
  /** PEM chain for client listeners (absent with cert-manager: the platform issues it). */
  tlsCertPem?: pulumi.Output<string>;
  tlsKeyPem?: pulumi.Output<string>;
  /** DKIM signing key (PEM) when DKIM is configured. */
  dkimKeyPem?: pulumi.Output<string>;
  /** The cluster-internal CA certificate every member verifies the hub by (RuntimeConfig `clusterTls.caFile`). */
  internalCaPem?: pulumi.Output<string>;
  /**
   * That CA's key, for the hubs only (RuntimeConfig `clusterCaKeyFile`): a
   * hub signs each member's own key with it, short-lived certificates
   * naming that member alone (mail-runtime/hub/ca).
   */
  internalCaKeyPem?: pulumi.Output<string>;
  /** The hubs' certificate and key from that CA (`clusterTls.certFile`/`keyFile` of a hub). */
  hubInternalCertPem?: pulumi.Output<string>;
  hubInternalKeyPem?: pulumi.Output<string>;
  /**
   * Every role's certificate from that CA (hubs: the same as above; nodes:
   * what the proxies verify on the backend hop; gateways: the relay
   * listener's), `clusterTls.certFile`/`keyFile` of each such member.
   */
  internalLeaves?: Readonly<Record<InternalLeafRole, InternalLeaf>>;
}

/** A certificate from the cluster CA and its key (a Pulumi secret). */
export interface InternalLeaf {
  certPem: pulumi.Output<string>;
  keyPem: pulumi.Output<string>;
}

/** The certificate a member of `role` presents from the cluster CA, if the role has one (render.ts internalTls). */
export function internalLeafOf(secrets: ClusterSecrets, role: RuntimeRole): InternalLeaf | undefined {
  if (role === 'hub' || role === 'all') return secrets.hubInternalCertPem && secrets.hubInternalKeyPem ? { certPem: secrets.hubInternalCertPem, keyPem: secrets.hubInternalKeyPem } : undefined;
  if (role === 'node' || role === 'gateway') return secrets.internalLeaves?.[role];
  return undefined;
}

/** What an adapter is given for one cluster. */
export interface ClusterContext<K extends PlatformKind = PlatformKind> {
  /** Component name: the prefix of every child resource name (`${name}-<role>-<i>`). */
  name: string;
  spec: ClusterSpec & { platform: PlatformOf<K> };
  /** Every member's rendered RuntimeConfig (components/render.ts). */
  members: readonly RenderedMember[];
  /** The clamd/rspamd appliances the spec deploys beside the gateways (components/render.ts renderAppliances); empty when none. */
  appliances: readonly RenderedAppliance[];
  secrets: ClusterSecrets;
}

/** Where the shared storage is and how a workload mounts it. */
export interface SharedVolume {
  /** Resources that make the storage (PVC, volume, ...), for dependsOn. */
  resources: pulumi.Resource[];
  /** Human-readable description for outputs: `nfs 10.0.0.5:/export/mail`, `pvc mail-prod-storage`. */
  description: pulumi.Output<string>;
}

/** Platform objects that hold the secrets (Kubernetes Secret, files on a VM, ...). */
export interface SecretStore {
  resources: pulumi.Resource[];
}

export interface WorkloadArgs {
  role: Role;
  /** The members of this role, in index order. */
  members: readonly RenderedMember[];
  volume: SharedVolume;
  secretStore: SecretStore;
  /** Size from the spec for this role. */
  size: { cpu: number; memoryMiB: number; diskGiB: number };
}

export interface Workload {
  resources: pulumi.Resource[];
  /** Address of each member, in member order (IP, DNS name or container name). */
  addresses: pulumi.Output<string>[];
}

export interface ApplianceArgs {
  /**
   * The appliances to run, in slot order (one per kind and site, or per
   * Docker host, with gateways); the gateways' RuntimeConfigs already point
   * at their `host:port`.
   */
  appliances: readonly RenderedAppliance[];
  /**
   * Prefix of the appliances' Pulumi resource names: the name of the
   * component they are children of (the Gateway), because the engine
   * derives a renamed parent's child aliases from that prefix.
   */
  namePrefix: string;
}

export interface LoadBalancerArgs {
  /** Proxies take IMAP/POP3/submission/SMTPS; gateways take SMTP 25. */
  proxies: readonly RenderedMember[];
  gateways: readonly RenderedMember[];
  hubs: readonly RenderedMember[];
  dependsOn: pulumi.Resource[];
}

export interface LoadBalancerOut {
  resources: pulumi.Resource[];
  /** Address clients use (IP or host name). */
  address: pulumi.Output<string>;
  /**
   * Ports served on another address than `address` (Kubernetes gives SMTP its
   * own Service so the client IP survives for SPF and relay checks).
   */
  addresses?: Partial<Record<ClientPort, pulumi.Output<string>>>;
  /** Client ports as clients see them (differ from the standard ones on Docker with publishOffset). */
  ports: Record<ClientPort, number>;
}

export const CLIENT_PORTS = ['smtp', 'submission', 'smtps', 'imap', 'imaps', 'pop3', 'pop3s'] as const;
export type ClientPort = (typeof CLIENT_PORTS)[number];

/** One cluster on one platform: created by `PlatformAdapter.open`, used by the role components. */
export interface PlatformSession {
  /** Platform objects that hold ClusterSecrets. */
  secrets(parent: pulumi.Resource): SecretStore;
  /** The shared storage every member mounts. */
  volume(parent: pulumi.Resource): SharedVolume;
  /** The members of one role (StatefulSet, containers, VMs...). */
  workload(args: WorkloadArgs, parent: pulumi.Resource): Workload;
  /**
   * The security appliances beside the gateways (clamd, rspamd). `addresses`
   * are each appliance's `host:port`, in the order of `args.appliances`.
   */
  appliances(args: ApplianceArgs, parent: pulumi.Resource): Workload;
  /** Spreads client connections over proxies and gateways. The admin API is never on it unless spec.admin.public. */
  loadBalancer(args: LoadBalancerArgs, parent: pulumi.Resource): LoadBalancerOut;
}

/**
 * Where an adapter's providers come from. A provider the caller gave wins;
 * otherwise the adapter builds one from the spec plus `credentials`. An
 * adapter never reads stack config (another package's or ours): whatever the
 * spec does not hold arrives here, passed by the stack program.
 */
export interface ProviderSources<C> {
  /**
   * The provider the caller gave for a package (`opts.provider`/`opts.providers`
   * of the component or of an ancestor, or the engine's for a multi-language
   * program), or undefined.
   */
  explicit(pkg: string): pulumi.ProviderResource | undefined;
  /** Docker: a provider per host, keyed by the host URL as written in spec.platform.hosts. */
  perHost: Readonly<Record<string, pulumi.ProviderResource>>;
  /** Settings the spec does not hold for a provider the adapter builds (credentials). */
  credentials: C | undefined;
}

export interface PlatformAdapter<K extends PlatformKind = PlatformKind, C = never> {
  readonly kind: K;
  /**
   * Validates platform-specific args (throwing pulumi.ResourceError naming the
   * field) and creates cluster-wide base objects (namespace, network,
   * provider when none was given, HA group) as children of `parent`.
   */
  open(ctx: ClusterContext<K>, parent: pulumi.ComponentResource, providers: ProviderSources<C>): PlatformSession;
}
