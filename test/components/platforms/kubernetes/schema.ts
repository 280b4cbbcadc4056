import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import type { CapturedResource } from '../../../../components/offline/capture';
import { unwrapSecrets } from '../../../../components/offline/capture';

/**
 * Checks captured Kubernetes inputs against the Kubernetes OpenAPI schemas
 * (kubernetes-models' generated validators). cert-manager's Certificate is not
 * in kubernetes-models: it gets a structural check of cert-manager.io/v1's
 * required fields and enums instead.
 */

interface Model {
  validate(): void;
}
type ModelClass = new (data: never) => Model;

export const MODELS: Record<string, { apiVersion: string; kind: string; model: ModelClass }> = {
  'kubernetes:core/v1:Namespace': { apiVersion: 'v1', kind: 'Namespace', model: Namespace as unknown as ModelClass },
  'kubernetes:core/v1:Secret': { apiVersion: 'v1', kind: 'Secret', model: Secret as unknown as ModelClass },
  'kubernetes:core/v1:ConfigMap': { apiVersion: 'v1', kind: 'ConfigMap', model: ConfigMap as unknown as ModelClass },
  'kubernetes:core/v1:Service': { apiVersion: 'v1', kind: 'Service', model: Service as unknown as ModelClass },
  'kubernetes:core/v1:PersistentVolume': { apiVersion: 'v1', kind: 'PersistentVolume', model: PersistentVolume as unknown as ModelClass },
  'kubernetes:core/v1:PersistentVolumeClaim': { apiVersion: 'v1', kind: 'PersistentVolumeClaim', model: PersistentVolumeClaim as unknown as ModelClass },
  'kubernetes:apps/v1:StatefulSet': { apiVersion: 'apps/v1', kind: 'StatefulSet', model: StatefulSet as unknown as ModelClass },
  'kubernetes:apps/v1:Deployment': { apiVersion: 'apps/v1', kind: 'Deployment', model: Deployment as unknown as ModelClass },
  'kubernetes:policy/v1:PodDisruptionBudget': { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', model: PodDisruptionBudget as unknown as ModelClass },
  'kubernetes:networking.k8s.io/v1:NetworkPolicy': { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', model: NetworkPolicy as unknown as ModelClass },
};

export const CERTIFICATE_TYPE = 'kubernetes:cert-manager.io/v1:Certificate';

/** The object a resource's inputs describe, secrets unwrapped, apiVersion/kind filled in. */
export function manifestOf(r: CapturedResource): Record<string, unknown> {
  const m = MODELS[r.type];
  const inputs = unwrapSecrets(r.inputs) as Record<string, unknown>;
  return m ? { apiVersion: m.apiVersion, kind: m.kind, ...inputs } : inputs;
}

/** Throws with the schema violation; returns the object validated. */
export function validateManifest(type: string, manifest: Record<string, unknown>): void {
  if (type === CERTIFICATE_TYPE) return validateCertificate(manifest);
  const m = MODELS[type];
  if (!m) throw new Error(`no Kubernetes schema known for ${type}`);
  if (manifest.apiVersion !== m.apiVersion || manifest.kind !== m.kind) {
    throw new Error(`${type}: apiVersion/kind ${String(manifest.apiVersion)}/${String(manifest.kind)} != ${m.apiVersion}/${m.kind}`);
  }
  new m.model(manifest as never).validate();
}

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function validateCertificate(c: Record<string, unknown>): void {
  const fail = (msg: string): never => {
    throw new Error(`Certificate: ${msg}`);
  };
  if (c.apiVersion !== 'cert-manager.io/v1' || c.kind !== 'Certificate') fail('apiVersion/kind must be cert-manager.io/v1 Certificate');
  const meta = c.metadata as { name?: unknown; namespace?: unknown } | undefined;
  if (typeof meta?.name !== 'string' || typeof meta.namespace !== 'string') fail('metadata.name and metadata.namespace are required');
  const spec = c.spec as Record<string, unknown> | undefined;
  if (!spec) return fail('spec is required');
  const allowed = new Set(['secretName', 'secretTemplate', 'commonName', 'dnsNames', 'duration', 'renewBefore', 'issuerRef', 'privateKey', 'usages', 'ipAddresses', 'uris', 'emailAddresses', 'subject', 'isCA', 'keystores', 'revisionHistoryLimit', 'additionalOutputFormats', 'nameConstraints', 'literalSubject', 'otherNames', 'encodeUsagesInRequest', 'renewBeforePercentage']);
  for (const k of Object.keys(spec)) if (!allowed.has(k)) fail(`spec.${k} is not a Certificate field`);
  if (typeof spec.secretName !== 'string' || spec.secretName.length === 0) fail('spec.secretName is required');
  const issuer = spec.issuerRef as { name?: unknown; kind?: unknown; group?: unknown } | undefined;
  if (typeof issuer?.name !== 'string') fail('spec.issuerRef.name is required');
  if (issuer!.kind !== undefined && !['Issuer', 'ClusterIssuer'].includes(issuer!.kind as string)) fail('spec.issuerRef.kind must be Issuer or ClusterIssuer');
  const names = [...((spec.dnsNames as unknown[]) ?? []), spec.commonName].filter(Boolean);
  if (names.length === 0) fail('needs dnsNames or commonName');
  for (const d of ['duration', 'renewBefore'] as const) {
    if (spec[d] !== undefined && !(typeof spec[d] === 'string' && DURATION.test(spec[d] as string))) fail(`spec.${d} must be a Go duration`);
  }
  const pk = spec.privateKey as { algorithm?: unknown; size?: unknown; rotationPolicy?: unknown } | undefined;
  if (pk?.algorithm !== undefined && !['RSA', 'ECDSA', 'Ed25519'].includes(pk.algorithm as string)) fail('spec.privateKey.algorithm');
  if (pk?.algorithm === 'ECDSA' && ![256, 384, 521].includes(pk.size as number)) fail('spec.privateKey.size for ECDSA must be 256, 384 or 521');
  if (pk?.rotationPolicy !== undefined && !['Always', 'Never'].includes(pk.rotationPolicy as string)) fail('spec.privateKey.rotationPolicy');
  const usages = new Set(['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc']);
  for (const u of (spec.usages as unknown[]) ?? []) if (!usages.has(u as string)) fail(`spec.usages: "${String(u)}" is not a key usage`);
}
