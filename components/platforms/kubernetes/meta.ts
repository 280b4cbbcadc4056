import * as pulumi from '@pulumi/pulumi';
import { kubernetesNamespace } from '../../render';
import type { Role } from '../../spec';
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
 * (`mailfleet-<cluster>` by default), so two stacks do not collide.
 */

/**
 * Longest cluster name the adapter accepts. StatefulSet pods carry the label
 * `controller-revision-hash: <set name>-<10 chars>`, which must fit a 63-char
 * label value, so a set name is at most 52 characters; `${cluster}-gateway`
 * and `mailfleet-${cluster}` (the default namespace) must also stay DNS
 * labels. 40 leaves room for all of them.
 */
export const MAX_CLUSTER_NAME = 40;

/** uid/gid the runtime runs as: the Dockerfile's `USER 1000:1000`, so files the image owns stay readable. */
export const RUNTIME_UID = 1000;

/** Where the ConfigMap of a role is mounted; each member reads `<memberId>.json` from here. */
export const CONFIG_MOUNT = '/etc/mailfleet/config';

/** Annotation that rolls a role's pods when its rendered config changes (and only then). */
export const CONFIG_HASH_ANNOTATION = 'mailfleet.io/config-sha256';

export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** Label keys the adapter owns (selectors depend on them); spec.platform.labels may not set them. */
export const RESERVED_LABELS: readonly string[] = Object.values(LABEL);

export interface Names {
  cluster: string;
  namespace: string;
  tlsSecret: string;
  tokensSecret: string;
  dkimSecret: string;
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
// Validation of what Kubernetes itself would reject, before anything is created.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A label or annotation key: `[prefix/]name` (Kubernetes "qualified name"). Returns a problem or undefined. */
export function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return `prefix "${prefix}" must be a lowercase DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `name part "${name}" must be 1-63 characters of A-Z, a-z, 0-9, "-", "_", "." starting and ending alphanumeric`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  return value.length > 63 || !LABEL_VALUE.test(value)
    ? 'must be at most 63 characters of A-Z, a-z, 0-9, "-", "_", "." starting and ending alphanumeric (or empty)'
    : undefined;
}

/**
 * Checks the spec against Kubernetes naming rules and the adapter's own
 * constraints; throws pulumi.ResourceError naming the field.
 */
export function validateKubernetesSpec(ctx: ClusterContext<'kubernetes'>, parent: pulumi.Resource): void {
  const fail = (field: string, message: string): never => {
    throw new pulumi.ResourceError(`kubernetes: ${field} ${message}`, parent);
  };
  const { spec } = ctx;
  const p = spec.platform;
  if (spec.name.length > MAX_CLUSTER_NAME) {
    fail('name', `must be at most ${MAX_CLUSTER_NAME} characters on kubernetes (StatefulSet and Service names derive from it; got ${spec.name.length})`);
  }
  if (!/^[a-z]/.test(spec.name)) {
    fail('name', 'must start with a letter on kubernetes: Service names derived from it must be DNS-1035 labels');
  }
  const ns = kubernetesNamespace(spec);
  if (ns.length > 63 || !DNS1123_LABEL.test(ns)) fail(p.namespace ? 'platform.namespace' : 'name', `gives namespace "${ns}", which is not a DNS label of at most 63 characters`);
  for (const [key, value] of Object.entries(p.labels)) {
    const kp = keyProblem(key);
    if (kp) fail(`platform.labels."${key}"`, kp);
    if (RESERVED_LABELS.includes(key)) fail(`platform.labels."${key}"`, `is set by mailfleet (it selects pods); reserved keys: ${RESERVED_LABELS.join(', ')}`);
    const vp = labelValueProblem(value);
    if (vp) fail(`platform.labels."${key}"`, vp);
  }
  p.spreadKeys.forEach((key, i) => {
    const kp = keyProblem(key);
    if (kp) fail(`platform.spreadKeys[${i}]`, `is not a node label key: ${kp}`);
  });
  if (new Set(p.spreadKeys).size !== p.spreadKeys.length) fail('platform.spreadKeys', 'lists a key twice');
  const lb = spec.loadBalancer;
  if (lb.kind === 'kubernetes-service') {
    for (const key of Object.keys(lb.annotations)) {
      const kp = keyProblem(key);
      if (kp) fail(`loadBalancer.annotations."${key}"`, kp);
    }
    if (lb.loadBalancerIP && p.serviceType !== 'LoadBalancer') {
      fail('loadBalancer.loadBalancerIP', `only applies to platform.serviceType LoadBalancer (got ${p.serviceType})`);
    }
  }
  if (spec.storage.kind !== 'pvc-rwx' && spec.storage.kind !== 'nfs') {
    fail('storage.kind', `"${spec.storage.kind}" is not available on kubernetes; use pvc-rwx or nfs`);
  }
  if (spec.storage.kind === 'pvc-rwx' && !DNS1123_SUBDOMAIN.test(spec.storage.storageClass)) {
    fail('storage.storageClass', `"${spec.storage.storageClass}" is not a valid StorageClass name (lowercase DNS subdomain)`);
  }
  if (/\s/.test(spec.runtime.image)) fail('runtime.image', `"${spec.runtime.image}" contains whitespace`);
  if (spec.tls.mode !== 'cert-manager' && (!ctx.secrets.tlsCertPem || !ctx.secrets.tlsKeyPem)) {
    fail('tls', `mode "${spec.tls.mode}" needs a certificate and key from the cluster secrets`);
  }
  if (spec.tls.mode === 'cert-manager' && !DNS1123_SUBDOMAIN.test(spec.tls.issuer)) {
    fail('tls.issuer', `"${spec.tls.issuer}" is not a valid ${spec.tls.issuerKind} name`);
  }
  if (spec.filters.dkim && !ctx.secrets.dkimKeyPem) fail('filters.dkim', 'is configured but the cluster secrets carry no DKIM key');
}
