import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
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
  /**
   * Implicit-TLS listeners: picks the context for the name a client asks
   * for (RFC 6066 §3 server_name); absent, every client gets `context`.
   * withClusterIdentity() sets it.
   */
  sni?: (servername: string) => SecureContext | undefined;
  /** The cluster-internal identity `sni` serves (withClusterIdentity), replaced live by clusterCertificateSwitch(). */
  cluster?: TlsMaterial;
  /** Who follows replaceCertificate() beyond `context` (listeners that copied key and cert, e.g. smtp-server's STARTTLS); see onCertificateReplaced. */
  replaced?: Set<(m: TlsMaterial) => void>;
}

/**
 * Replaces the certificate a member serves, live (cluster settings `tls`):
 * checked first (a PEM chain whose first certificate matches the key), then
 * swapped in place, so every listener sharing `material` presents it on its
 * next handshake; connections already encrypted keep theirs. Throws,
 * changing nothing, on a pair it cannot use.
 */
export function replaceCertificate(material: TlsMaterial, certPem: string, keyPem: string, selfSigned = false): void {
  let context: SecureContext;
  try {
    const leaf = new X509Certificate(certPem);
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not belong to the certificate');
    context = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new Error(`TLS certificate from the cluster settings cannot be used: ${(err as Error).message}`, { cause: err });
  }
  Object.assign(material, { cert: certPem, key: keyPem, selfSigned, context });
  for (const follow of material.replaced ?? []) follow(material);
}

/** Calls `follow` after each replaceCertificate() of `material`. */
export function onCertificateReplaced(material: TlsMaterial, follow: (m: TlsMaterial) => void): void {
  (material.replaced ??= new Set()).add(follow);
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

/**
 * The member's public certificate plus its cluster-internal one (config
 * `clusterTls.certFile`/`keyFile`, issued by the cluster CA): a client that
 * asks for the member's id by SNI (the proxy's backend hop, proxy/backend.ts)
 * gets the cluster certificate and verifies it against the cluster CA and
 * that name; everyone else gets the public one, as before.
 *
 * Why SNI on the existing listeners rather than a dedicated internal
 * listener: no new port, config key, firewall rule, Service or
 * NetworkPolicy per platform, and the PROXY v2 trust, connection limits
 * and login deadline of the node's client listeners apply unchanged. What
 * the SNI choice reveals to a public client that asks for it is a
 * certificate (public data by nature) naming internal names; its key never
 * leaves the member, and the public clients' certificate is untouched.
 * SNI carries only host names, never IP literals (RFC 6066 §3), so the
 * selector is the member id (always a DNS name in the certificate,
 * hub/ca issueMemberCertificate and components/secrets.ts).
 */
export async function withClusterIdentity(publicTls: TlsMaterial, cluster: TlsFiles | undefined, names: readonly string[]): Promise<TlsMaterial> {
  const own = cluster ? await loadTls({ certFile: cluster.certFile, keyFile: cluster.keyFile }) : undefined;
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const material: TlsMaterial = { ...publicTls, ...(own ? { cluster: own } : {}) };
  // Read at each handshake: clusterCertificateSwitch() replaces the identity live.
  material.sni = (servername) => (wanted.has(servername.toLowerCase()) ? material.cluster?.context : undefined);
  return material;
}

/**
 * The live-replaceable cluster identity of `material` (withClusterIdentity):
 * `apply(pair)` serves the hub-issued member certificate to clients asking
 * for the member id by SNI from the next handshake on, `apply(undefined)`
 * the one the member started with again (the deployment's role
 * certificate, the fallback) or none. Throws, changing nothing, on a pair
 * whose key does not match.
 */
export function clusterCertificateSwitch(material: TlsMaterial): (pair: { certPem: string; keyPem: string } | undefined) => void {
  const started = material.cluster ? { ...material.cluster } : undefined;
  return (pair) => {
    if (!pair) {
      if (started && material.cluster) replaceCertificate(material.cluster, started.cert, started.key, started.selfSigned);
      else if (!started) delete material.cluster;
      return;
    }
    if (material.cluster) replaceCertificate(material.cluster, pair.certPem, pair.keyPem);
    else {
      const made: TlsMaterial = { cert: '', key: '', selfSigned: false, context: material.context };
      replaceCertificate(made, pair.certPem, pair.keyPem);
      material.cluster = made;
    }
  };
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

/**
 * The live-replaceable side of a member's certificate: `apply(pair)` serves
 * the cluster settings' pair, `apply(undefined)` the one the member started
 * with again.
 */
export function certificateSwitch(material: TlsMaterial): (pair: { certPem: string; keyPem: string } | undefined) => void {
  const own = { cert: material.cert, key: material.key, selfSigned: material.selfSigned };
  return (pair) => (pair ? replaceCertificate(material, pair.certPem, pair.keyPem) : replaceCertificate(material, own.cert, own.key, own.selfSigned));
}
