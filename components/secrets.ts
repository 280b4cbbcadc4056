import { isIP } from 'node:net';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import * as tls from '@pulumi/tls';
import type { ClusterSecrets, InternalLeaf } from './platforms/types';
import { INTERNAL_LEAF_ROLES, type InternalLeafRole } from './render';
import type { ClusterSpec } from './spec';

export interface SecretInputs {
  /** PEM private key for `tls.mode: provided` (a Pulumi secret config value). */
  tlsPrivateKey?: pulumi.Input<string>;
  /** PEM DKIM private key; generated when absent and DKIM is configured. */
  dkimPrivateKey?: pulumi.Input<string>;
  /** Admin API token; generated when absent. */
  adminToken?: pulumi.Input<string>;
}

/**
 * Creates (or adopts) every cluster secret. Generated ones come from the
 * random and tls providers, so they are stable across `pulumi up` runs and
 * stored encrypted in the state; all are wrapped in pulumi.secret.
 */
/**
 * @param internalNames host names and addresses members use to reach each
 *   other (the hub URL's host, hub addresses): a self-signed certificate
 *   names them too, so members can verify the hub's TLS.
 */
/**
 * @param leafNames with it, also the cluster-internal CA and, per role, the
 *   certificate from it naming these (createInternalPki; render.ts
 *   internalLeafNames).
 */
export function createClusterSecrets(
  name: string,
  spec: Pick<ClusterSpec, 'tls' | 'hostname' | 'filters'>,
  inputs: SecretInputs,
  parent: pulumi.Resource,
  internalNames: readonly string[] = [],
  leafNames?: Readonly<Record<InternalLeafRole, readonly string[]>>,
): ClusterSecrets {
  const opts = { parent };
  const token = (suffix: string) =>
    new random.RandomPassword(`${name}-${suffix}`, { length: 48, special: false }, opts).result;

  const adminToken = pulumi.secret(inputs.adminToken ? pulumi.output(inputs.adminToken) : token('admin-token'));
  const clusterToken = pulumi.secret(token('cluster-token'));

  let tlsCertPem: pulumi.Output<string> | undefined;
  let tlsKeyPem: pulumi.Output<string> | undefined;
  switch (spec.tls.mode) {
    case 'self-signed': {
      const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, opts);
      const cert = new tls.SelfSignedCert(
        `${name}-tls-cert`,
        {
          privateKeyPem: key.privateKeyPem,
          subject: { commonName: spec.hostname, organization: 'mailfleet' },
          dnsNames: unique([spec.hostname, ...spec.tls.hostnames, ...internalNames.filter((n) => !isIP(n))]),
          ipAddresses: unique(internalNames.filter((n) => isIP(n))),
          validityPeriodHours: 24 * 365,
          earlyRenewalHours: 24 * 30,
          allowedUses: ['key_encipherment', 'digital_signature', 'server_auth'],
        },
        opts,
      );
      tlsCertPem = cert.certPem;
      tlsKeyPem = pulumi.secret(key.privateKeyPem);
      break;
    }
    case 'provided':
      if (!inputs.tlsPrivateKey) {
        throw new pulumi.ResourceError(
          `tls.mode is "provided" but no private key was given: set the secret config key mailfleet:${spec.tls.privateKeySecret} (pulumi config set --secret ${spec.tls.privateKeySecret} < key.pem)`,
          parent,
        );
      }
      tlsCertPem = pulumi.output(spec.tls.certificatePem);
      tlsKeyPem = pulumi.secret(pulumi.output(inputs.tlsPrivateKey));
      break;
    case 'cert-manager':
      break; // the Kubernetes adapter creates a Certificate; cert-manager writes the Secret.
  }

  let dkimKeyPem: pulumi.Output<string> | undefined;
  if (spec.filters.dkim) {
    dkimKeyPem = pulumi.secret(
      inputs.dkimPrivateKey
        ? pulumi.output(inputs.dkimPrivateKey)
        : new tls.PrivateKey(`${name}-dkim-key`, { algorithm: 'RSA', rsaBits: 2048 }, opts).privateKeyPem,
    );
  }
  return { adminToken, clusterToken, tlsCertPem, tlsKeyPem, dkimKeyPem, ...(leafNames ? createInternalPki(name, leafNames, parent) : {}) };
}

/** The internal CA outlives many hub certificates: ten years, renewed (replaced) a year ahead. */
const INTERNAL_CA_VALIDITY_HOURS = 24 * 365 * 10;
/** 397 days: the CA/Browser Forum ceiling for a leaf, as the hub's own member certificates (mail-runtime/hub/ca). */
const INTERNAL_LEAF_VALIDITY_HOURS = 24 * 397;

/**
 * The cluster-internal PKI: a CA (tls provider, so it is stable across
 * `pulumi up` runs and its key lives only in the encrypted state) and, per
 * role that presents one (hubs, nodes, gateways), a certificate from it
 * naming every internal name and address of that role's members. Members
 * verify each other against this CA whatever the public TLS mode (a public
 * certificate from cert-manager or the operator names only the public host
 * name). The provider renews a leaf 30 days before it expires
 * (`earlyRenewalHours`): the next `pulumi up` replaces it and restarts the
 * role's members with the new one.
 */
function createInternalPki(name: string, leafNames: Readonly<Record<InternalLeafRole, readonly string[]>>, parent: pulumi.Resource): Pick<ClusterSecrets, 'internalCaPem' | 'internalCaKeyPem' | 'hubInternalCertPem' | 'hubInternalKeyPem' | 'internalLeaves'> {
  const opts = { parent };
  const caKey = new tls.PrivateKey(`${name}-internal-ca-key`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, opts);
  const ca = new tls.SelfSignedCert(
    `${name}-internal-ca`,
    {
      privateKeyPem: caKey.privateKeyPem,
      subject: { commonName: `${name} cluster CA`, organization: 'mailfleet' },
      isCaCertificate: true,
      validityPeriodHours: INTERNAL_CA_VALIDITY_HOURS,
      earlyRenewalHours: 24 * 365,
      allowedUses: ['cert_signing', 'crl_signing', 'digital_signature'],
    },
    opts,
  );
  const leaves = Object.fromEntries(INTERNAL_LEAF_ROLES.map((role) => [role, issueInternalLeaf(name, role, leafNames[role], { keyPem: caKey.privateKeyPem, certPem: ca.certPem }, parent)])) as Record<InternalLeafRole, InternalLeaf>;
  // The hubs get the CA key too: they sign each member's own key (mail-runtime/hub/ca), so the role certificates above are only the bootstrap.
  return { internalCaPem: ca.certPem, internalCaKeyPem: pulumi.secret(caKey.privateKeyPem), hubInternalCertPem: leaves.hub.certPem, hubInternalKeyPem: leaves.hub.keyPem, internalLeaves: leaves };
}

/**
 * The one way the deployment issues a certificate from the cluster CA: one
 * per role, shared by the role's members. Per member would need a Secret
 * per pod, which a StatefulSet's single pod template cannot mount; and the
 * members of a role are interchangeable to the cluster anyway (they hold
 * the same cluster token and storage), so a name shared within the role
 * grants nothing more. Resource names `${name}-<role>-internal-*` (the
 * hubs' kept their names, so existing stacks keep their certificate).
 */
function issueInternalLeaf(name: string, role: InternalLeafRole, names: readonly string[], ca: { keyPem: pulumi.Output<string>; certPem: pulumi.Output<string> }, parent: pulumi.Resource): InternalLeaf {
  const opts = { parent };
  const key = new tls.PrivateKey(`${name}-${role}-internal-key`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, opts);
  const request = new tls.CertRequest(
    `${name}-${role}-internal-csr`,
    {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: `${name}-${role}`, organization: 'mailfleet' },
      dnsNames: unique(names.filter((n) => !isIP(n))),
      ipAddresses: unique(names.filter((n) => isIP(n))),
    },
    opts,
  );
  const cert = new tls.LocallySignedCert(
    `${name}-${role}-internal-cert`,
    {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: ca.keyPem,
      caCertPem: ca.certPem,
      validityPeriodHours: INTERNAL_LEAF_VALIDITY_HOURS,
      earlyRenewalHours: 24 * 30,
      allowedUses: ['key_encipherment', 'digital_signature', 'server_auth', 'client_auth'],
    },
    opts,
  );
  return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
