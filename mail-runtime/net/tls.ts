import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsMaterial {
  key: string;
  cert: string;
  /** True when we generated the certificate ourselves (no files configured). */
  selfSigned: boolean;
  context: SecureContext;
}

/**
 * Loads the configured certificate, or generates a self-signed one (valid for
 * `hostname`, localhost and the loopback addresses) when none is configured,
 * so a fresh node always offers STARTTLS/implicit TLS.
 */
export async function loadTls(files: TlsFiles | undefined, hostname = 'localhost'): Promise<TlsMaterial> {
  if (!files) {
    // One generated certificate per host name and process: listeners of one
    // member share it, and key generation (RSA 2048) is not free.
    let cached = generated.get(hostname);
    if (!cached) {
      cached = generateSelfSigned(hostname);
      generated.set(hostname, cached);
      cached.catch(() => generated.delete(hostname));
    }
    return cached;
  }
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  return { cert, key, selfSigned: false, context: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }) };
}

const generated = new Map<string, Promise<TlsMaterial>>();

async function generateSelfSigned(hostname: string): Promise<TlsMaterial> {
  const notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    // RSA: selfsigned 5.5 fails on EC keys ("Cannot get schema for 'AlgorithmIdentifier'").
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return {
    cert: pems.cert,
    key: pems.private,
    selfSigned: true,
    context: createSecureContext({ cert: pems.cert, key: pems.private, minVersion: 'TLSv1.2' }),
  };
}
