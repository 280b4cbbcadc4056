import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { generate } from 'selfsigned';

/**
 * The cluster-internal CA. Member-to-hub TLS is verified against it, never
 * against the public certificate, so the internal names (member ids,
 * Kubernetes service names, private addresses) are always in the
 * certificate whatever the public TLS mode is. `mailfleet up --local` or the
 * components create the CA; the hub holds its key (`clusterCaKeyFile`) and
 * signs each member's own key with it (`POST /v1/cluster/certificate`:
 * checkCsr, signMemberCertificate), short-lived, naming that member only.
 */
export interface Pem {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;
/** Members renew their certificates on restart; 397 days is the CA/Browser Forum ceiling for a leaf. */
const MEMBER_VALIDITY_DAYS = 397;

function rsaKeyPair(): { privateKey: string; publicKey: string } {
  // RSA: selfsigned signs with RSA keys; 2048 bits is the CA/Browser Forum minimum.
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

/**
 * A certificate with a key made here, signed by the CA (tests and tools
 * that stand in for the deployment's role certificates), naming every internal name:
 * `names` (DNS) and `ips`, for both server and client authentication.
 */
export async function issueMemberCertificate(ca: Pem, subject: { memberId: string; names?: readonly string[]; ips?: readonly string[] }): Promise<Pem> {
  const keyPair = rsaKeyPair();
  const dns = [...new Set([subject.memberId, ...(subject.names ?? []).filter((n) => isIP(n) === 0)])];
  const ips = [...new Set([...(subject.ips ?? []), ...(subject.names ?? []).filter((n) => isIP(n) !== 0)])];
  const now = Date.now();
  const p = await generate([{ name: 'commonName', value: subject.memberId }], {
    keyPair,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - DAY_MS),
    notAfterDate: new Date(now + MEMBER_VALIDITY_DAYS * DAY_MS),
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  return { certPem: p.cert, keyPem: keyPair.privateKey };
}

/** Why a certificate request cannot be signed; the API answers 400 naming `field`. */
export class CertificateRequestError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'CertificateRequestError';
  }
}

/** What a hub-issued member certificate names: the member id (CN and a DNS SAN), more DNS names, IP addresses. */
export interface MemberSubject {
  memberId: string;
  dns: readonly string[];
  ips: readonly string[];
}

/** A member's CSR checked: its public key (SPKI), proven held by whoever signed the CSR (RFC 2986 §3). */
export async function checkCsr(csrPem: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CertificateRequestError('body.csrPem', `is not a PEM PKCS#10 certificate request (RFC 2986): ${(err as Error).message}`);
  }
  // The CSR's signature proves the requester holds the private key of the key it asks us to certify.
  const valid = await csr.verify().catch(() => false);
  if (!valid) throw new CertificateRequestError('body.csrPem', 'its signature does not verify with its own public key (RFC 2986 §3: proof of possession)');
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const d = key.asymmetricKeyDetails;
  const ok =
    (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= 2048) ||
    (key.asymmetricKeyType === 'ec' && (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'secp384r1')) ||
    key.asymmetricKeyType === 'ed25519';
  if (!ok) throw new CertificateRequestError('body.csrPem', `its key (${key.asymmetricKeyType ?? 'unknown'}${d?.modulusLength ? ` ${d.modulusLength} bits` : d?.namedCurve ? ` ${d.namedCurve}` : ''}) is not RSA ≥ 2048 bits, EC P-256/P-384 or Ed25519`);
  return csr.publicKey;
}

/** Web Crypto import parameters and the signature algorithm for a CA key (RSA PKCS#1 v1.5 or ECDSA, SHA-256/384). */
function caSigning(keyPem: string): { der: Buffer; importAlg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; sign: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams } {
  const key = createPrivateKey(keyPem);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  if (key.asymmetricKeyType === 'rsa') return { der, importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
    return { der, importAlg: { name: 'ECDSA', namedCurve: curve }, sign: { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' } };
  }
  throw new Error(`the cluster CA key is ${key.asymmetricKeyType ?? 'of an unknown type'}; RSA or EC is needed to sign member certificates`);
}

/** Backdating notBefore absorbs clocks a little behind the hub's (members verify each other's certificates on their own clocks). */
const NOT_BEFORE_SKEW_MS = 5 * 60_000;

/**
 * Signs a certificate for a key the member made and kept (its CSR's public
 * key, checkCsr): the private key never leaves the member. Names exactly
 * `subject` (the caller decided what the member may be called), for server
 * and client authentication, valid for `validForMs` from now.
 */
export async function signMemberCertificate(ca: Pem, publicKey: x509.PublicKey, subject: MemberSubject, validForMs: number): Promise<{ certPem: string; notAfter: Date }> {
  const s = caSigning(ca.keyPem);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', s.der, s.importAlg, false, ['sign']);
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = Date.now();
  const notAfter = new Date(now + validForMs);
  const dns = [...new Set([subject.memberId, ...subject.dns])];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    subject: `CN=${subject.memberId}, O=mailfleet member`,
    issuer: caCert.subject,
    notBefore: new Date(now - NOT_BEFORE_SKEW_MS),
    notAfter,
    signingAlgorithm: s.sign,
    publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...subject.ips.map((value) => ({ type: 'ip' as const, value }))]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), notAfter };
}
