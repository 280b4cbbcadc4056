import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { SecretStore } from '../types';
import type { KubeEnv } from './meta';

/**
 * Cluster secrets as Kubernetes Secrets. Values come straight from the
 * ClusterSecrets Outputs (all Pulumi secrets) into `stringData`, so they are
 * encrypted in the Pulumi state and appear nowhere else: ConfigMaps and pod
 * specs only name the files (components/render.ts GUEST_PATHS).
 *
 * - `<cluster>-tls` (kubernetes.io/tls): the client/hub certificate. With
 *   tls.mode cert-manager a cert-manager Certificate writes this Secret.
 * - `<cluster>-tokens` (Opaque): `admin-token` (mounted on hubs only) and
 *   `cluster-token` (every member).
 * - `<cluster>-dkim` (Opaque): `dkim.key`, mounted on gateways only.
 * - `<cluster>-cluster-tls` (Opaque): the cluster-internal CA `ca.crt`
 *   (every member) and the hubs' certificate from it, `hub.crt`/`hub.key`
 *   (hubs only).
 */

/** Keys inside the Secrets; the pod spec projects them to the GUEST_PATHS file names. */
export const SECRET_KEYS = {
  tlsCert: 'tls.crt',
  tlsKey: 'tls.key',
  adminToken: 'admin-token',
  clusterToken: 'cluster-token',
  dkimKey: 'dkim.key',
  internalCa: 'ca.crt',
  /** The CA's key: projected into hub pods only (pod.ts). */
  internalCaKey: 'ca.key',
  hubInternalCert: 'hub.crt',
  hubInternalKey: 'hub.key',
  nodeInternalCert: 'node.crt',
  nodeInternalKey: 'node.key',
  gatewayInternalCert: 'gateway.crt',
  gatewayInternalKey: 'gateway.key',
} as const;

/** The keys of a role's certificate from the cluster CA in the cluster-tls Secret (a pod projects only its role's pair). */
export const INTERNAL_LEAF_KEYS = {
  hub: { cert: SECRET_KEYS.hubInternalCert, key: SECRET_KEYS.hubInternalKey },
  all: { cert: SECRET_KEYS.hubInternalCert, key: SECRET_KEYS.hubInternalKey },
  node: { cert: SECRET_KEYS.nodeInternalCert, key: SECRET_KEYS.nodeInternalKey },
  gateway: { cert: SECRET_KEYS.gatewayInternalCert, key: SECRET_KEYS.gatewayInternalKey },
} as const;

export const CERT_MANAGER_API_VERSION = 'cert-manager.io/v1';

/** The part of cert-manager's Certificate spec (cert-manager.io/v1) the adapter sets. */
export interface CertificateSpec {
  secretName: string;
  secretTemplate?: { labels?: Record<string, string> };
  commonName?: string;
  dnsNames: string[];
  duration: string;
  renewBefore: string;
  issuerRef: { name: string; kind: 'Issuer' | 'ClusterIssuer'; group: 'cert-manager.io' };
  privateKey: { algorithm: 'ECDSA' | 'RSA'; size: number; rotationPolicy: 'Always' | 'Never' };
  usages: string[];
}

export function createSecrets(env: KubeEnv, parent: pulumi.Resource): SecretStore {
  const { ctx, names } = env;
  const { spec, secrets } = ctx;
  const resources: pulumi.Resource[] = [];
  const opts = env.opts(parent);

  if (spec.tls.mode === 'cert-manager') {
    const certSpec: CertificateSpec = {
      secretName: names.tlsSecret,
      secretTemplate: { labels: env.meta(names.tlsSecret).labels },
      commonName: spec.hostname,
      dnsNames: [spec.hostname],
      // 90 days, renewed 15 days ahead: Let's Encrypt's lifetime, and long
      // enough that a renewal failure is noticed before expiry.
      duration: '2160h',
      renewBefore: '360h',
      issuerRef: { name: spec.tls.issuer, kind: spec.tls.issuerKind, group: 'cert-manager.io' },
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['server auth', 'digital signature', 'key encipherment'],
    };
    resources.push(
      new k8s.apiextensions.CustomResource(
        `${ctx.name}-certificate`,
        { apiVersion: CERT_MANAGER_API_VERSION, kind: 'Certificate', metadata: env.meta(names.certificate), spec: certSpec },
        opts,
      ),
    );
  } else {
    resources.push(
      new k8s.core.v1.Secret(
        `${ctx.name}-tls`,
        {
          metadata: env.meta(names.tlsSecret),
          type: 'kubernetes.io/tls',
          stringData: pulumi.secret(
            pulumi.all([secrets.tlsCertPem!, secrets.tlsKeyPem!]).apply(([cert, key]) => ({ [SECRET_KEYS.tlsCert]: cert, [SECRET_KEYS.tlsKey]: key })),
          ),
        },
        opts,
      ),
    );
  }

  resources.push(
    new k8s.core.v1.Secret(
      `${ctx.name}-tokens`,
      {
        metadata: env.meta(names.tokensSecret),
        type: 'Opaque',
        stringData: pulumi.secret(
          pulumi.all([secrets.adminToken, secrets.clusterToken]).apply(([admin, cluster]) => ({
            [SECRET_KEYS.adminToken]: admin,
            [SECRET_KEYS.clusterToken]: cluster,
          })),
        ),
      },
      opts,
    ),
  );

  if (secrets.internalCaPem && secrets.hubInternalCertPem && secrets.hubInternalKeyPem) {
    const leaves = secrets.internalLeaves;
    resources.push(
      new k8s.core.v1.Secret(
        `${ctx.name}-cluster-tls`,
        {
          metadata: env.meta(names.internalTlsSecret),
          type: 'Opaque',
          stringData: pulumi.secret(
            pulumi
              .all([secrets.internalCaPem, secrets.hubInternalCertPem, secrets.hubInternalKeyPem, leaves?.node.certPem, leaves?.node.keyPem, leaves?.gateway.certPem, leaves?.gateway.keyPem, secrets.internalCaKeyPem])
              .apply(([ca, cert, key, nodeCert, nodeKey, gatewayCert, gatewayKey, caKey]) => ({
                [SECRET_KEYS.internalCa]: ca,
                ...(caKey ? { [SECRET_KEYS.internalCaKey]: caKey } : {}),
                [SECRET_KEYS.hubInternalCert]: cert,
                [SECRET_KEYS.hubInternalKey]: key,
                ...(nodeCert && nodeKey ? { [SECRET_KEYS.nodeInternalCert]: nodeCert, [SECRET_KEYS.nodeInternalKey]: nodeKey } : {}),
                ...(gatewayCert && gatewayKey ? { [SECRET_KEYS.gatewayInternalCert]: gatewayCert, [SECRET_KEYS.gatewayInternalKey]: gatewayKey } : {}),
              })),
          ),
        },
        opts,
      ),
    );
  }

  if (secrets.dkimKeyPem) {
    resources.push(
      new k8s.core.v1.Secret(
        `${ctx.name}-dkim`,
        {
          metadata: env.meta(names.dkimSecret),
          type: 'Opaque',
          stringData: pulumi.secret(secrets.dkimKeyPem.apply((key) => ({ [SECRET_KEYS.dkimKey]: key }))),
        },
        opts,
      ),
    );
  }
  return { resources };
}
