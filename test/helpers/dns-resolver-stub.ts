/**
 * A DNS resolver stub in mailauth's resolver shape (that of
 * `dns.promises.resolve`): answers from a table, and for anything else
 * fails the way node:dns does (ENOTFOUND for a name it does not know,
 * ENODATA for a known name without records of that type), so SPF's void
 * lookup accounting (RFC 7208 §4.6.4) sees what a real resolver causes.
 */
export type DnsRecords = Record<string, { TXT?: string[]; A?: string[]; AAAA?: string[]; MX?: { exchange: string; priority: number }[] }>;

export interface DnsStub {
  (name: string, rrtype: string): Promise<string[][] | string[]>;
  /** Every query, as `TYPE name`. */
  readonly queries: string[];
}

function dnsError(code: 'ENOTFOUND' | 'ENODATA', name: string, rrtype: string): Error {
  return Object.assign(new Error(`query${rrtype} ${code} ${name}`), { code, hostname: name });
}

/** TXT strings longer than 255 octets travel as several character-strings (RFC 1035 §3.3.14); mailauth joins them. */
function chunks(txt: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < txt.length; i += 255) out.push(txt.slice(i, i + 255));
  return out.length ? out : [''];
}

export function dnsStub(records: DnsRecords): DnsStub {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  const queries: string[] = [];
  const resolve = (name: string, rrtype: string): Promise<string[][] | string[]> => {
    const key = name.toLowerCase().replace(/\.$/, '');
    queries.push(`${rrtype} ${key}`);
    const entry = table.get(key);
    if (!entry) return Promise.reject(dnsError('ENOTFOUND', name, rrtype));
    const type = rrtype.toUpperCase();
    if (type === 'TXT' && entry.TXT) return Promise.resolve(entry.TXT.map(chunks));
    if ((type === 'A' || type === 'AAAA') && entry[type]) return Promise.resolve(entry[type]);
    if (type === 'MX' && entry.MX) return Promise.resolve(entry.MX as unknown as string[]);
    return Promise.reject(dnsError('ENODATA', name, rrtype));
  };
  return Object.assign(resolve, { queries });
}

/** A resolver that never answers: the filter's deadline must. */
export const silentResolver = (): Promise<string[]> => new Promise<string[]>(() => undefined);
