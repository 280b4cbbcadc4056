import { promises as dns } from 'node:dns';
import type { DNSResolver } from 'mailauth';

/**
 * DNS for the authentication filter (SPF, DKIM, DMARC, ARC): a cache in
 * front of a resolver, and a lookup budget per message.
 *
 * Why (issue 14): every message of a sender domain asks the same questions
 * (`TXT client.example`, `TXT _dmarc.client.example`, the DKIM key). Asked
 * each time, they cost a round trip per message at best, and with a
 * resolver that does not answer, a time-out per message: the gateway then
 * sits idle while every 250 waits. Answers are cached, negative answers too
 * (RFC 2308 §5: NXDOMAIN and NODATA may be cached), concurrent questions
 * share one query, and a resolver that failed (time-out, SERVFAIL, refused)
 * is not asked the same question again for a few seconds.
 */
export interface CachedResolverOptions {
  /** Answers kept this long (node:dns does not report the TTL of TXT records: a cap, not the record's TTL). */
  positiveTtlMs?: number;
  /** NXDOMAIN / NODATA kept this long (RFC 2308 §5). */
  negativeTtlMs?: number;
  /** A failure (time-out, SERVFAIL, refused) kept this long: the next messages see temperror at once instead of waiting again. */
  errorTtlMs?: number;
  /** Bound on the cache; the least recently used question goes first. */
  maxEntries?: number;
  now?: () => number;
}

const DEFAULTS = { positiveTtlMs: 300_000, negativeTtlMs: 60_000, errorTtlMs: 5_000, maxEntries: 10_000 };

/** The error codes that say "no such name / no such record": an answer, not a failure (mailauth reads them as none). */
const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

type Answer = Awaited<ReturnType<DNSResolver>>;
interface Entry {
  /** Until then the entry answers; Infinity while the query is in flight. */
  expires: number;
  answer: Promise<Answer>;
}

export function cachedResolver(base: DNSResolver, opts: CachedResolverOptions = {}): DNSResolver {
  const o = { ...DEFAULTS, ...opts };
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Entry>();
  return (name, rrtype) => {
    const key = `${rrtype ?? 'A'} ${name.toLowerCase()}`;
    const t = now();
    const hit = cache.get(key);
    if (hit && hit.expires > t) {
      // Most recently used last: Map keeps insertion order, the oldest is evicted first.
      cache.delete(key);
      cache.set(key, hit);
      return hit.answer.then(copy);
    }
    const entry: Entry = { expires: Infinity, answer: base(name, rrtype) };
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > o.maxEntries) cache.delete(cache.keys().next().value!);
    entry.answer.then(
      () => (entry.expires = now() + o.positiveTtlMs),
      (err: unknown) => (entry.expires = now() + (NEGATIVE.has(codeOf(err)) ? o.negativeTtlMs : o.errorTtlMs)),
    );
    return entry.answer.then(copy);
  };
}

/** Every caller gets its own arrays: a cached answer is never changed by whoever read it before. */
function copy(a: Answer): Answer {
  return structuredClone(a);
}

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/**
 * A lookup budget shared by every lookup of one message: once `budgetMs`
 * has passed since the first lookup, a lookup still waiting, and every
 * later one, fails with ETIMEOUT, which mailauth reports as `temperror`
 * (RFC 7208 §2.6.6, RFC 7489 §6.6.3; RFC 8601 §2.7.2). So a resolver that
 * never answers delays a message by the budget once, not by a time-out per
 * lookup, and the message is accepted with a temperror verdict well within
 * the filter's own time-out. `signal` (the chain's) fails them at once too.
 */
export function budgetedResolver(base: DNSResolver, budgetMs: number, signal?: AbortSignal): DNSResolver {
  let deadline: number | undefined;
  // Set when a lookup's timer fires: libuv timers count whole milliseconds of
  // loop time and can fire a fraction of a millisecond before performance.now()
  // reaches the deadline, and a lookup right after must not see time left.
  let spent = false;
  return (name, rrtype) => {
    if (signal?.aborted) return Promise.reject(dnsError('ECANCELLED', name, 'lookup cancelled'));
    deadline ??= performance.now() + budgetMs;
    const left = deadline - performance.now();
    if (spent || left <= 0) return Promise.reject(dnsError('ETIMEOUT', name, `DNS budget of ${budgetMs} ms for this message used up`));
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        spent = true;
        reject(dnsError('ETIMEOUT', name, `no DNS answer within ${budgetMs} ms`));
      }, left);
      base(name, rrtype).then(
        (a) => (clearTimeout(timer), resolve(a)),
        (err: unknown) => (clearTimeout(timer), reject(err)),
      );
    });
  };
}

function dnsError(code: string, name: string, text: string): Error {
  return Object.assign(new Error(`${text} (${name})`), { code, hostname: name });
}

let system: DNSResolver | undefined;
/**
 * The process's resolver (the system's servers), cached, shared by every
 * authentication filter the gateway builds (settings changes rebuild the
 * filters: the cache stays). c-ares retries once after 2.5 s; the
 * per-message budget bounds what a message waits in any case.
 */
export function systemResolver(): DNSResolver {
  if (!system) {
    const r = new dns.Resolver({ timeout: 2500, tries: 2 });
    system = cachedResolver((name, rrtype) => r.resolve(name, rrtype ?? 'A') as Promise<Answer>);
  }
  return system;
}

/** A resolver asking the given servers (`host` or `host:port`, as dns.setServers takes them), with the same cache. */
export function serversResolver(servers: readonly string[], opts: CachedResolverOptions & { timeoutMs?: number } = {}): DNSResolver {
  const r = new dns.Resolver({ timeout: opts.timeoutMs ?? 2500, tries: 1 });
  r.setServers([...servers]);
  return cachedResolver((name, rrtype) => r.resolve(name, rrtype ?? 'A') as Promise<Answer>, opts);
}
