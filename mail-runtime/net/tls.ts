import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Both files absent: generate a self-signed pair and write it there (config `tls.generateIfMissing`). */
  generateIfMissing?: boolean;
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
  if (files.generateIfMissing && (await bothMissing(files))) {
    const made = await generateSelfSigned(hostname);
    if (await publishPair(files, made)) return made;
    // Another member published its pair first: use that one, so every member shares a certificate.
  }
  const [certRead, keyRead] = await Promise.allSettled([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  if (certRead.status === 'rejected' || keyRead.status === 'rejected') {
    const problems = [
      ['certificate', 'certFile', files.certFile, certRead],
      ['key', 'keyFile', files.keyFile, keyRead],
    ] as const;
    const why = problems
      .filter(([, , , r]) => r.status === 'rejected')
      .map(([what, field, file, r]) => `TLS ${what} file ${file} cannot be read (${((r as PromiseRejectedResult).reason as NodeJS.ErrnoException).code ?? 'error'}; tls.${field})`);
    throw new Error(`${why.join('; ')}: check the member's config`, { cause: certRead.status === 'rejected' ? certRead.reason : (keyRead as PromiseRejectedResult).reason });
  }
  const [cert, key] = [certRead.value, keyRead.value];
  return { cert, key, selfSigned: false, context: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }) };
}

async function bothMissing(files: TlsFiles): Promise<boolean> {
  const exists = async (f: string) =>
    readFile(f).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
  const [cert, key] = await Promise.all([exists(files.certFile), exists(files.keyFile)]);
  return !cert && !key;
}

/**
 * Writes a generated pair where the config says, without ever leaving a
 * half-written or mismatched pair: each file is written in full under a
 * temporary name and then hard-linked into place, which fails if the name
 * exists. The key goes first; whoever places it also places the certificate.
 * Returns false when another process won the race.
 */
async function publishPair(files: TlsFiles, made: TlsMaterial): Promise<boolean> {
  const place = async (target: string, text: string, mode: number): Promise<boolean> => {
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, text, { mode, flag: 'wx' });
    try {
      await link(tmp, target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  };
  if (!(await place(files.keyFile, made.key, 0o600))) return waitForPair(files);
  await place(files.certFile, made.cert, 0o644);
  return true;
}

/** The key exists, so its writer is about to place the certificate: wait for it (bounded). */
async function waitForPair(files: TlsFiles): Promise<false> {
  for (let i = 0; i < 50; i++) {
    if (await readFile(files.certFile).then(() => true, () => false)) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${files.keyFile} exists but ${files.certFile} never appeared; remove both to generate a new pair`);
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
