import { generateKeyPairSync } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

/**
 * The cluster-internal CA. Member-to-hub TLS is verified against it, never
 * against the public certificate, so the internal names (member ids,
 * Kubernetes service names, private addresses) are always in the
 * certificate whatever the public TLS mode is. `mailfleet up --local` or the
 * components create the CA; the hub holds its key (`clusterCaKeyFile`) and
 * issues member certificates with it (`POST /v1/cluster/certificate`).
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
 * A certificate for a member, signed by the CA, naming every internal name:
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
