import { isIP } from 'node:net';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import * as tls from '@pulumi/tls';
import type { ClusterSecrets } from './platforms/types';
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
 * @param hubNames with it, also the cluster-internal CA and the hubs'
 *   certificate from it naming these (createInternalPki).
 */
export function createClusterSecrets(
  name: string,
  spec: Pick<ClusterSpec, 'tls' | 'hostname' | 'filters'>,
  inputs: SecretInputs,
  parent: pulumi.Resource,
  internalNames: readonly string[] = [],
  hubNames?: readonly string[],
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
  return { adminToken, clusterToken, tlsCertPem, tlsKeyPem, dkimKeyPem, ...(hubNames ? createInternalPki(name, hubNames, parent) : {}) };
}

/** The internal CA outlives many hub certificates: ten years, renewed (replaced) a year ahead. */
const INTERNAL_CA_VALIDITY_HOURS = 24 * 365 * 10;
/** 397 days: the CA/Browser Forum ceiling for a leaf, as the hub's own member certificates (mail-runtime/hub/ca). */
const INTERNAL_LEAF_VALIDITY_HOURS = 24 * 397;

/**
 * The cluster-internal PKI: a CA (tls provider, so it is stable across
 * `pulumi up` runs and its key lives only in the encrypted state) and the
 * hubs' serving certificate from it, naming every internal name and address
 * members reach a hub by. Members verify the hub against this CA whatever
 * the public TLS mode (a public certificate from cert-manager or the
 * operator names only the public host name). The provider renews the leaf
 * 30 days before it expires (`earlyRenewalHours`): the next `pulumi up`
 * replaces it and restarts the hubs with the new one.
 */
function createInternalPki(name: string, hubNames: readonly string[], parent: pulumi.Resource): Pick<ClusterSecrets, 'internalCaPem' | 'hubInternalCertPem' | 'hubInternalKeyPem'> {
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
  const hubKey = new tls.PrivateKey(`${name}-hub-internal-key`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, opts);
  const request = new tls.CertRequest(
    `${name}-hub-internal-csr`,
    {
      privateKeyPem: hubKey.privateKeyPem,
      subject: { commonName: `${name}-hub`, organization: 'mailfleet' },
      dnsNames: unique(hubNames.filter((n) => !isIP(n))),
      ipAddresses: unique(hubNames.filter((n) => isIP(n))),
    },
    opts,
  );
  const hubCert = new tls.LocallySignedCert(
    `${name}-hub-internal-cert`,
    {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      validityPeriodHours: INTERNAL_LEAF_VALIDITY_HOURS,
      earlyRenewalHours: 24 * 30,
      allowedUses: ['key_encipherment', 'digital_signature', 'server_auth', 'client_auth'],
    },
    opts,
  );
  return { internalCaPem: ca.certPem, hubInternalCertPem: hubCert.certPem, hubInternalKeyPem: pulumi.secret(hubKey.privateKeyPem) };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
