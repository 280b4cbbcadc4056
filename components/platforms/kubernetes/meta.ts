import * as pulumi from '@pulumi/pulumi';
import { kubernetesNamespace, type RenderedAppliance } from '../../render';
import { KUBERNETES_LABELS, type Role } from '../../spec';
import type { ClusterContext } from '../types';

/**
 * Names, labels and the shared per-cluster environment of the Kubernetes
 * adapter (internal to this folder).
 *
 * Object names derive from the spec's cluster name, not from the Pulumi
 * component name: components/render.ts has already written the DNS names
 * members reach each other on (`${id}.${cluster}-node.${ns}.svc.cluster.local`,
 * `${cluster}-hub.${ns}.svc...`), so the Services and StatefulSets must carry
 * exactly those names. They live in the cluster's own namespace
 * (`mailfleet-<cluster>` by default), so two stacks do not collide. The spec
 * bounds the cluster name (MAX_NAME_LENGTH in components/spec.ts) so every
 * one of these names, and the StatefulSet pods' revision-hash label, stays
 * within Kubernetes' limits.
 */

/** uid/gid the runtime runs as: the Dockerfile's `USER 1000:1000`, so files the image owns stay readable. */
export const RUNTIME_UID = 1000;

/** Where the ConfigMap of a role is mounted; each member reads `<memberId>.json` from here. */
export const CONFIG_MOUNT = '/etc/mailfleet/config';

/** Annotation that rolls a role's pods when its rendered config changes (and only then). */
export const CONFIG_HASH_ANNOTATION = 'mailfleet.io/config-sha256';

/** Labels every object carries; the spec rejects operator labels that would override them (components/spec.ts). */
export const LABEL = KUBERNETES_LABELS;

export interface Names {
  cluster: string;
  namespace: string;
  tlsSecret: string;
  tokensSecret: string;
  dkimSecret: string;
  /** The cluster-internal CA and the hubs' certificate from it. */
  internalTlsSecret: string;
  certificate: string;
  pvc: string;
  /** PersistentVolumes are cluster-scoped: the namespace makes the name unique. */
  pv: string;
  /** StatefulSet / Deployment / governing Service / PDB / NetworkPolicy of a role. */
  role(role: Role): string;
  config(role: Role): string;
  publicSmtp: string;
  publicClients: string;
  publicAdmin: string;
}

export function namesFor(spec: ClusterContext<'kubernetes'>['spec']): Names {
  const c = spec.name;
  const namespace = kubernetesNamespace(spec);
  return {
    cluster: c,
    namespace,
    tlsSecret: `${c}-tls`,
    tokensSecret: `${c}-tokens`,
    dkimSecret: `${c}-dkim`,
    internalTlsSecret: `${c}-cluster-tls`,
    certificate: `${c}-tls`,
    pvc: `${c}-storage`,
    pv: `${namespace}-storage`,
    role: (role) => `${c}-${role}`,
    config: (role) => `${c}-${role}-config`,
    publicSmtp: `${c}-smtp`,
    publicClients: `${c}-clients`,
    publicAdmin: `${c}-admin`,
  };
}

/** Labels that select a role's pods. Never includes operator labels: selectors are immutable. */
export function selectorLabels(cluster: string, role?: Role): Record<string, string> {
  return {
    [LABEL.name]: 'mailfleet',
    [LABEL.instance]: cluster,
    ...(role ? { [LABEL.component]: role } : {}),
  };
}

/**
 * Labels that select an appliance's pods (clamd or rspamd beside the
 * gateways): the daemon's own application name, so the members' selectors
 * (`app.kubernetes.io/name: mailfleet`) never match them.
 */
export function applianceLabels(cluster: string, a: Pick<RenderedAppliance, 'kind' | 'index'>): Record<string, string> {
  return {
    [LABEL.name]: a.kind === 'clamd' ? 'clamav' : 'rspamd',
    [LABEL.instance]: cluster,
    [LABEL.component]: `${a.kind}-${a.index}`,
  };
}

/** Labels on every object: selector labels, ownership, and the operator's extra labels. */
export function objectLabels(ctx: ClusterContext<'kubernetes'>, role?: Role): Record<string, string> {
  return {
    ...ctx.spec.platform.labels,
    ...selectorLabels(ctx.spec.name, role),
    [LABEL.partOf]: 'mailfleet',
    [LABEL.managedBy]: 'pulumi',
  };
}

/** Metadata of a namespaced object: labels are plain (they also feed selectors and templates). */
export interface ObjectMeta {
  name: string;
  namespace: pulumi.Output<string>;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** What every file of the adapter shares for one cluster. */
export interface KubeEnv {
  ctx: ClusterContext<'kubernetes'>;
  names: Names;
  /** The Namespace's name as an Output, so every namespaced object depends on the Namespace. */
  namespace: pulumi.Output<string>;
  provider?: pulumi.ProviderResource;
  /** Resource options for a child of `parent` (with the caller's provider, or the one for spec.platform.context). */
  opts(parent: pulumi.Resource, extra?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions;
  meta(name: string, role?: Role, annotations?: Record<string, string>): ObjectMeta;
}

// ---------------------------------------------------------------------------
// What the spec cannot know: names, labels, keys and storage are checked by the
// spec's validation (components/spec.ts); the cluster secrets come from stack
// config, so they are checked here, before anything is created.

/** Throws pulumi.ResourceError naming the field when a secret the spec needs is missing. */
export function requireSecrets(ctx: ClusterContext<'kubernetes'>, parent: pulumi.Resource): void {
  const { spec, secrets } = ctx;
  if (spec.tls.mode !== 'cert-manager' && (!secrets.tlsCertPem || !secrets.tlsKeyPem)) {
    throw new pulumi.ResourceError(`kubernetes: tls mode "${spec.tls.mode}" needs a certificate and key from the cluster secrets`, parent);
  }
  if (spec.filters.dkim && !secrets.dkimKeyPem) {
    throw new pulumi.ResourceError('kubernetes: filters.dkim is configured but the cluster secrets carry no DKIM key', parent);
  }
}
