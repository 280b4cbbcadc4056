import { request } from 'node:https';
import { OUTBOUND_LIMITS } from './limits';
import type { TlsFailure } from './tls-report';

/**
 * MTA-STS (RFC 8461): a domain publishes, over HTTPS, which MX hosts are
 * its own and whether senders must reach them over authenticated TLS. Our
 * own parser and matcher rather than mailauth's: its wildcard matches any
 * depth (`*.example.net` would take `a.b.example.net`, RFC 8461 §4.1 says
 * one label) and its fetcher can neither be pointed at a test server nor
 * bounded in size.
 */

export interface StsPolicy {
  mode: 'enforce' | 'testing' | 'none';
  /** MX patterns, lower case (`mx1.example.net`, `*.example.net`). */
  mx: string[];
  maxAgeSeconds: number;
  /** The policy's lines, for TLS reports (RFC 8460 §4.4 policy-string). */
  lines: string[];
}

export class StsPolicyError extends Error {}

/** RFC 8461 §3.2: `key: value` lines (CRLF or LF); version STSv1, mode, max_age and (unless mode none) at least one mx. */
export function parseStsPolicy(text: string): StsPolicy {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const fields = new Map<string, string[]>();
  for (const line of lines) {
    const m = /^([A-Za-z0-9_]+)\s*:\s*(.*)$/.exec(line);
    if (!m) throw new StsPolicyError(`not a "key: value" line: ${JSON.stringify(line.slice(0, 80))}`);
    const key = m[1]!.toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), m[2]!.trim()]);
  }
  const one = (k: string) => fields.get(k)?.[0];
  if (one('version') !== 'STSv1') throw new StsPolicyError('version must be STSv1');
  const mode = one('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') throw new StsPolicyError(`mode must be enforce, testing or none (got ${JSON.stringify(mode)})`);
  const maxAgeText = one('max_age') ?? '';
  if (!/^\d{1,10}$/.test(maxAgeText) || Number(maxAgeText) > OUTBOUND_LIMITS.mtaStsMaxAgeSeconds) {
    throw new StsPolicyError(`max_age must be a whole number of seconds up to ${OUTBOUND_LIMITS.mtaStsMaxAgeSeconds} (got ${JSON.stringify(maxAgeText)})`);
  }
  const mx = [...new Set((fields.get('mx') ?? []).map((p) => p.toLowerCase().replace(/\.$/, '')))];
  for (const p of mx) {
    if (!/^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(p)) throw new StsPolicyError(`not an MX pattern: ${JSON.stringify(p)}`);
  }
  if (mode !== 'none' && !mx.length) throw new StsPolicyError('a policy in enforce or testing mode lists at least one mx');
  return { mode, mx, maxAgeSeconds: Number(maxAgeText), lines };
}

/** RFC 8461 §4.1: exact match, or `*.` standing for exactly one leftmost label. */
export function mxMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return h === pattern;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === pattern.slice(2);
}

/** RFC 8461 §3.1: `v=STSv1; id=…;` in TXT `_mta-sts.<domain>`; exactly one such record, else no policy. */
export function parseStsTxt(records: readonly string[]): string | undefined {
  const sts = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length !== 1) return undefined;
  const fields = new Map(
    sts[0]!
      .split(';')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => {
        const eq = f.indexOf('=');
        return [f.slice(0, eq).trim(), f.slice(eq + 1).trim()] as const;
      }),
  );
  const id = fields.get('id');
  return id && /^[A-Za-z0-9]{1,32}$/.test(id) ? id : undefined;
}

/** Fetches the policy text of a domain (`https://mta-sts.<domain>/.well-known/mta-sts.txt`). */
export type PolicyFetcher = (domain: string) => Promise<string>;

export class StsFetchError extends Error {
  /** The policy host's certificate failed PKIX validation (RFC 8460 sts-webpki-invalid). */
  webpki = false;
}

/** OpenSSL/Node codes of a certificate that does not validate. */
const WEBPKI_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)|ERR_TLS_CERT_ALTNAME_INVALID)/;

export interface HttpsFetcherOptions {
  /** Addresses of a host name (the outbound resolver's A/AAAA lookups). */
  resolve: (host: string) => Promise<string[]>;
  /** Trust anchors for the policy host's certificate (default: Node's roots). */
  ca?: string[];
  /** 443 unless a test serves elsewhere. */
  port?: number;
}

/**
 * The policy fetch of RFC 8461 §3.3: HTTPS with a certificate valid for
 * `mta-sts.<domain>`, status 200 only (no redirects), `text/plain`, at most
 * 64 KiB, within a timeout.
 */
export function httpsPolicyFetcher(opts: HttpsFetcherOptions): PolicyFetcher {
  return async (domain) => {
    const host = `mta-sts.${domain}`;
    const addresses = await opts.resolve(host);
    const address = addresses[0];
    if (!address) throw new StsFetchError(`${host} has no address`);
    return new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: address,
          port: opts.port ?? 443,
          path: '/.well-known/mta-sts.txt',
          method: 'GET',
          servername: host,
          headers: { host },
          ca: opts.ca,
          agent: false,
          minVersion: 'TLSv1.2',
          timeout: OUTBOUND_LIMITS.mtaStsFetchTimeoutMs,
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new StsFetchError(`https://${host}/.well-known/mta-sts.txt answered ${res.statusCode} (only 200 counts; redirects are not followed)`));
            return;
          }
          const type = String(res.headers['content-type'] ?? '');
          if (!/^text\/plain\b/i.test(type)) {
            res.resume();
            reject(new StsFetchError(`policy served as ${JSON.stringify(type)}, not text/plain`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > OUTBOUND_LIMITS.mtaStsPolicyBytes) {
              req.destroy(new StsFetchError(`policy larger than ${OUTBOUND_LIMITS.mtaStsPolicyBytes} octets`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new StsFetchError(`no policy from ${host} within ${OUTBOUND_LIMITS.mtaStsFetchTimeoutMs / 1000} s`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof StsFetchError) return reject(err);
        const e = new StsFetchError(`fetching the policy from ${host}: ${err.message}`);
        e.webpki = WEBPKI_CODES.test(err.code ?? '');
        reject(e);
      });
      req.end();
    });
  };
}

/** TXT lookup result for `_mta-sts.<domain>`. */
export type StsTxt = { kind: 'id'; id: string } | { kind: 'none' } | { kind: 'error'; detail: string };

export interface StsLookup {
  /** The policy in force (enforce or testing); absent: deliver as if the domain had none. */
  policy?: StsPolicy & { id: string };
  /** Why a policy the domain announces could not be used (reported in TLS-RPT). */
  failure?: TlsFailure;
}

interface Cached {
  id: string;
  policy: StsPolicy;
  expiresAt: number;
}

/**
 * Policy discovery and the cache of RFC 8461 §3.3 and §5.1: a policy is
 * refetched when the TXT id changes or its max_age has run out; when the
 * TXT record is gone or the fetch fails, a cached policy still applies until
 * it expires; with nothing cached, the domain has no policy.
 */
export class MtaStsCache {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly txt: (domain: string) => Promise<StsTxt>,
    private readonly fetch: PolicyFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  async lookup(domain: string): Promise<StsLookup> {
    let cached = this.cache.get(domain);
    if (cached && cached.expiresAt <= this.now()) {
      this.cache.delete(domain);
      cached = undefined;
    }
    const txt = await this.txt(domain);
    if (txt.kind !== 'id' || txt.id === cached?.id) return this.result(cached);
    let policy: StsPolicy;
    try {
      policy = parseStsPolicy(await this.fetch(domain));
    } catch (err) {
      const resultType = err instanceof StsPolicyError ? 'sts-policy-invalid' : err instanceof StsFetchError && err.webpki ? 'sts-webpki-invalid' : 'sts-policy-fetch-error';
      return { ...this.result(cached), failure: { resultType, detail: (err as Error).message } };
    }
    this.cache.delete(domain);
    if (this.cache.size >= OUTBOUND_LIMITS.mtaStsCacheEntries) this.cache.delete(this.cache.keys().next().value!);
    const entry = { id: txt.id, policy, expiresAt: this.now() + policy.maxAgeSeconds * 1000 };
    this.cache.set(domain, entry);
    return this.result(entry);
  }

  private result(c: Cached | undefined): StsLookup {
    return c && c.policy.mode !== 'none' ? { policy: { ...c.policy, id: c.id } } : {};
  }
}
