import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { OUTBOUND_LIMITS } from './limits';

type Resolver = dnsPromises.Resolver;

/** The node:dns resolver every outbound lookup goes through: the configured servers (`outbound.resolvers`), or the system's. */
export function createResolver(servers: readonly string[]): Resolver {
  const r = new dnsPromises.Resolver({ timeout: OUTBOUND_LIMITS.dnsQueryTimeoutMs, tries: OUTBOUND_LIMITS.dnsQueryTries });
  if (servers.length) r.setServers([...servers]);
  return r;
}

export interface MxHost {
  name: string;
  preference: number;
}

export type MxResult =
  /** Hosts to try, in order; `implicit`: there was no MX and the domain itself is the host (RFC 5321 §5.1). */
  | { kind: 'hosts'; hosts: MxHost[]; implicit: boolean }
  /** RFC 7505 null MX: the domain accepts no mail. */
  | { kind: 'null' }
  /** The domain does not exist (NXDOMAIN): a permanent failure. */
  | { kind: 'no-domain' }
  /** We are the best MX left (RFC 5321 §5.1): delivering would loop. */
  | { kind: 'loop' }
  /** SERVFAIL, timeout, refused: try again later. */
  | { kind: 'temp-error'; detail: string };

const NO_DATA = new Set(['ENODATA']);
const NO_DOMAIN = new Set(['ENOTFOUND']);

/**
 * MX lookup as RFC 5321 §5.1 describes it: MX records sorted by preference,
 * equal preferences in random order; no MX at all means an implicit MX of
 * preference 0 naming the domain; a single MX of "." is a null MX
 * (RFC 7505 §3); hosts at or after our own name are dropped (we are a backup
 * MX for the domain, and mail must move towards the best one).
 */
export async function resolveMx(dns: Resolver, domain: string, localName: string, random: () => number = Math.random): Promise<MxResult> {
  let records: { exchange: string; priority: number }[];
  try {
    records = await dns.resolveMx(domain);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NO_DATA.has(code)) return { kind: 'hosts', hosts: [{ name: domain, preference: 0 }], implicit: true };
    if (NO_DOMAIN.has(code)) return { kind: 'no-domain' };
    return { kind: 'temp-error', detail: `MX lookup for ${domain} failed: ${code || (err as Error).message}` };
  }
  const nonNull = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
  // RFC 7505 §3: a null MX is the only MX; with others beside it the domain is misconfigured and the real ones are used.
  if (nonNull.length === 0) return records.length ? { kind: 'null' } : { kind: 'hosts', hosts: [{ name: domain, preference: 0 }], implicit: true };
  let hosts = orderMx(
    nonNull.map((r) => ({ name: r.exchange.replace(/\.$/, '').toLowerCase(), preference: r.priority })),
    random,
  );
  const self = hosts.find((h) => h.name === localName.toLowerCase());
  if (self) {
    hosts = hosts.filter((h) => h.preference < self.preference);
    if (!hosts.length) return { kind: 'loop' };
  }
  return { kind: 'hosts', hosts: hosts.slice(0, OUTBOUND_LIMITS.mxHosts), implicit: false };
}

/** Sorted by preference, ties shuffled (RFC 5321 §5.1 asks for random order among equals to spread load). */
export function orderMx(hosts: readonly MxHost[], random: () => number = Math.random): MxHost[] {
  const keyed = hosts.map((h) => ({ h, k: random() }));
  keyed.sort((a, b) => a.h.preference - b.h.preference || a.k - b.k);
  return keyed.map((x) => x.h);
}

export type AddressResult = { kind: 'addresses'; addresses: string[] } | { kind: 'none' } | { kind: 'temp-error'; detail: string };

/**
 * A host's addresses: IPv4 first, then IPv6 (most networks this runs on
 * reach IPv4 for sure). An IP literal is its own address. "none" only when
 * both lookups said the name has no such records.
 */
export async function resolveAddresses(dns: Resolver, host: string): Promise<AddressResult> {
  if (isIP(host)) return { kind: 'addresses', addresses: [host] };
  const [v4, v6] = await Promise.allSettled([dns.resolve4(host), dns.resolve6(host)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length) return { kind: 'addresses', addresses };
  const codes = [v4, v6].map((r) => (r.status === 'rejected' ? ((r.reason as NodeJS.ErrnoException).code ?? 'error') : 'ENODATA'));
  if (codes.every((c) => NO_DATA.has(c) || NO_DOMAIN.has(c))) return { kind: 'none' };
  return { kind: 'temp-error', detail: `address lookup for ${host} failed: ${codes.join('/')}` };
}
