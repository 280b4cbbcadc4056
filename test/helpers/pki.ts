import { generateKeyPairSync } from 'node:crypto';
import { generate } from 'selfsigned';

/**
 * Certificates for TLS tests: a private CA, leaf certificates it signs, and
 * self-signed ones. RSA (selfsigned 5.5 cannot make EC certificates); a key
 * pair can be shared between certificates to keep tests quick, or made
 * fresh where a test needs distinct keys (DANE matches keys).
 */
export interface Pem {
  key: string;
  cert: string;
}

export function rsaKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

const day = 86_400_000;

export async function makeCa(name: string, keyPair = rsaKeyPair()): Promise<Pem> {
  const p = await generate([{ name: 'commonName', value: name }], {
    keyPair,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - day),
    notAfterDate: new Date(Date.now() + 30 * day),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { key: p.private, cert: p.cert };
}

/** A server certificate for `names`, signed by `ca` or self-signed; `expired` puts its validity in the past. */
export async function makeLeaf(names: string[], opts: { ca?: Pem; keyPair?: { privateKey: string; publicKey: string }; expired?: boolean } = {}): Promise<Pem> {
  const keyPair = opts.keyPair ?? rsaKeyPair();
  const p = await generate([{ name: 'commonName', value: names[0]! }], {
    keyPair,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - (opts.expired ? 30 : 1) * day),
    notAfterDate: new Date(Date.now() + (opts.expired ? -2 : 30) * day),
    ca: opts.ca ? { key: opts.ca.key, cert: opts.ca.cert } : undefined,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { key: keyPair.privateKey, cert: p.cert };
}
