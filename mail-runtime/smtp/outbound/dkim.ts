import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dkimSign } from 'mailauth/lib/dkim/sign';
import { fromDomain } from './headers';
import type { DkimKeyFile } from './types';

/**
 * DKIM signing (RFC 6376) of mail our users send, with the key of the
 * RFC5322.From domain: relaxed/relaxed canonicalization (§3.4, survives the
 * whitespace and folding changes relays make) and mailauth's default header
 * list, which is RFC 6376 §5.4.1's recommended set.
 */

interface LoadedKey {
  domain: string;
  selector: string;
  privateKey: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

export class DkimKeyError extends Error {}

export class DkimSigner {
  /** Keys from the hub's cluster settings (`dkim`), applied live; they come before the config's keys. */
  private cluster = new Map<string, LoadedKey>();

  private constructor(
    private readonly keys: Map<string, LoadedKey>,
    private readonly fallback: Omit<LoadedKey, 'domain'> | undefined,
    private readonly hosted: ReadonlySet<string>,
  ) {}

  /**
   * Reads every key file now, so a missing or unreadable key stops the
   * gateway at start (naming the config field) rather than leaving mail
   * unsigned later. `perDomain` is `outbound.dkim`; `hostedKey` is
   * `filters.dkim`, which signs for every hosted domain not listed.
   */
  static async load(perDomain: Record<string, DkimKeyFile>, hostedKey: DkimKeyFile | undefined, hostedDomains: readonly string[]): Promise<DkimSigner> {
    const keys = new Map<string, LoadedKey>();
    for (const [domain, k] of Object.entries(perDomain)) keys.set(domain, { domain, ...(await loadKey(k, `outbound.dkim["${domain}"].keyFile`)) });
    const fallback = hostedKey ? await loadKey(hostedKey, 'filters.dkim.keyFile') : undefined;
    return new DkimSigner(keys, fallback, new Set(hostedDomains.map((d) => d.toLowerCase())));
  }

  /**
   * Replaces the cluster's keys (settings section `dkim`, domain → selector
   * and PEM) as a whole; `undefined` drops them. Every key is checked first,
   * so a bad one changes nothing and the error names its domain.
   */
  setClusterKeys(keys: Record<string, { selector: string; privateKeyPem: string }> | undefined): void {
    const next = new Map<string, LoadedKey>();
    for (const [domain, k] of Object.entries(keys ?? {})) {
      next.set(domain.toLowerCase(), { domain: domain.toLowerCase(), ...keyFromPem(k.privateKeyPem, k.selector, 'the key', `cluster settings dkim["${domain}"]`) });
    }
    this.cluster = next;
  }

  /** The key for a From domain: its own, a parent domain's (relaxed DMARC alignment), or the hosted-domain key; the cluster's before the config's. */
  keyFor(domain: string): LoadedKey | undefined {
    for (let d = domain.toLowerCase(); d.includes('.'); d = d.slice(d.indexOf('.') + 1)) {
      const k = this.cluster.get(d) ?? this.keys.get(d);
      if (k) return k;
    }
    if (this.fallback && this.hosted.has(domain.toLowerCase())) return { domain: domain.toLowerCase(), ...this.fallback };
    return undefined;
  }

  /** The message with a DKIM-Signature prepended, or unchanged when we hold no key for its From domain. */
  async sign(message: Buffer): Promise<Buffer> {
    const domain = fromDomain(message);
    const key = domain ? this.keyFor(domain) : undefined;
    if (!key) return message;
    const res = await dkimSign(message, {
      canonicalization: 'relaxed/relaxed',
      signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, algorithm: key.algorithm, canonicalization: 'relaxed/relaxed' }],
    } as Parameters<typeof dkimSign>[1]);
    if (res.errors?.length) throw new DkimKeyError(`DKIM signing for ${key.domain} failed: ${res.errors.map((e) => e.message).join('; ')}`);
    return Buffer.concat([Buffer.from(res.signatures, 'latin1'), message]);
  }
}

async function loadKey(k: DkimKeyFile, field: string): Promise<Omit<LoadedKey, 'domain'>> {
  let pem: string;
  try {
    pem = await readFile(k.keyFile, 'utf8');
  } catch (err) {
    throw new DkimKeyError(`DKIM key file ${k.keyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}; ${field})`);
  }
  return keyFromPem(pem, k.selector, `DKIM key file ${k.keyFile}`, field);
}

/** A PEM private key as DKIM uses it: RSA or Ed25519 (RFC 8463); `what` and `field` name it in errors. */
function keyFromPem(pem: string, selector: string, what: string, field: string): Omit<LoadedKey, 'domain'> {
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch (err) {
    throw new DkimKeyError(`${what} is not a PEM private key (${(err as Error).message}; ${field})`);
  }
  if (type !== 'rsa' && type !== 'ed25519') throw new DkimKeyError(`${what} holds a ${type} key; DKIM signs with RSA or Ed25519 (RFC 8463) (${field})`);
  return { selector, privateKey: pem, algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256' };
}
