import { createHash, X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TlsaData } from 'dns-packet';
import type { DnssecResolver } from './dnssec';
import type { TlsFailure } from './tls-report';

/**
 * DANE for SMTP (RFC 7672): TLSA records of an MX host, believed only when
 * the resolver validated them (the AD bit), decide how its certificate is
 * checked — instead of the public CAs, which an MX host's certificate need not
 * come from.
 */

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export type TlsaLookup =
  /** Validated TLSA records: TLS is mandatory and the peer must match one (RFC 7672 §2.2). */
  | { kind: 'records'; records: TlsaRecord[] }
  /** Validated denial (NXDOMAIN or no TLSA): no DANE for this host. */
  | { kind: 'none' }
  /** Not validated (no AD): treated as no DANE (RFC 7672 §2.2). */
  | { kind: 'insecure' }
  /** SERVFAIL or no answer: the host cannot be used now (RFC 7672 §2.2: a failed TLSA lookup skips the host). */
  | { kind: 'error'; detail: string };

/** TLSA RRset `_<port>._tcp.<host>` (RFC 7672 §2.2.3, RFC 6698 §3). */
export async function lookupTlsa(resolver: DnssecResolver, host: string, port: number): Promise<TlsaLookup> {
  const name = `_${port}._tcp.${host}`;
  let ans;
  try {
    ans = await resolver.query(name, 'TLSA');
  } catch (err) {
    return { kind: 'error', detail: `TLSA lookup for ${name}: ${(err as Error).message}` };
  }
  if (ans.rcode !== 'NOERROR' && ans.rcode !== 'NXDOMAIN') return { kind: 'error', detail: `TLSA lookup for ${name}: ${ans.rcode}` };
  if (!ans.secure) return { kind: 'insecure' };
  const records = ans.answers.flatMap((a) => {
    if (a.type !== 'TLSA') return [];
    const d = a.data as TlsaData;
    return [{ usage: d.usage, selector: d.selector, matchingType: d.matchingType, data: Buffer.from(d.certificate) }];
  });
  return records.length ? { kind: 'records', records } : { kind: 'none' };
}

export type SecureMx = { kind: 'secure' } | { kind: 'insecure' } | { kind: 'error'; detail: string };

/**
 * Whether the domain's MX RRset (or its absence, for an implicit MX) is
 * validated. RFC 7672 §2.2.1: only MX host names from a secure MX RRset
 * may be trusted as the names DANE protects; from an insecure one, an
 * attacker who forged the MX also picks the host, so DANE gives nothing.
 */
export async function mxSecurity(resolver: DnssecResolver, domain: string): Promise<SecureMx> {
  try {
    const ans = await resolver.query(domain, 'MX');
    if (ans.rcode !== 'NOERROR' && ans.rcode !== 'NXDOMAIN') return { kind: 'error', detail: `MX lookup for ${domain}: ${ans.rcode}` };
    return ans.secure ? { kind: 'secure' } : { kind: 'insecure' };
  } catch (err) {
    return { kind: 'error', detail: `MX lookup for ${domain}: ${(err as Error).message}` };
  }
}

/** RFC 7672 §3.1.3: only DANE-TA(2) and DANE-EE(3) are for SMTP; selectors 0/1, matching types 0/1/2 (RFC 6698 §2.1). */
export function usable(r: TlsaRecord): boolean {
  return (r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) && r.matchingType >= 0 && r.matchingType <= 2;
}

/** `3 1 1 ab12…`: a record as its presentation form (for logs and TLS reports). */
export function tlsaText(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

function associated(cert: X509Certificate, r: TlsaRecord): Buffer {
  const selected = r.selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
  if (r.matchingType === 1) return createHash('sha256').update(selected).digest();
  if (r.matchingType === 2) return createHash('sha512').update(selected).digest();
  return selected;
}

function matchesRecord(cert: X509Certificate, r: TlsaRecord): boolean {
  const want = associated(cert, r);
  return want.length === r.data.length && want.equals(r.data);
}

/** The chain the server presented, leaf first (Node links it through issuerCertificate). */
function presentedChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * Checks the peer against validated TLSA records (RFC 7672 §3.1):
 * DANE-EE(3): the leaf's certificate or key matches; names and dates are
 * not checked (§3.1.1). DANE-TA(2): a certificate the server presented
 * matches, the leaf chains to it by signature, the leaf is within its
 * validity and names one of `names` — the MX host, or the next-hop domain
 * (§3.1.2, §3.2.2). A TA must be in the presented chain: with only its hash
 * we could not check the signature it made.
 */
export function verifyDane(socket: TLSSocket, records: readonly TlsaRecord[], names: readonly string[], now: Date = new Date()): TlsFailure | undefined {
  const use = records.filter(usable);
  // RFC 7672 §2.2: all records unusable → TLS is still mandatory, but unauthenticated.
  if (!use.length) return undefined;
  const chain = presentedChain(socket);
  const leaf = chain[0];
  if (!leaf) return { resultType: 'validation-failure', detail: 'the server presented no certificate' };
  if (use.some((r) => r.usage === 3 && matchesRecord(leaf, r))) return undefined;
  for (const r of use.filter((x) => x.usage === 2)) {
    const ta = chain.findIndex((c) => matchesRecord(c, r));
    if (ta < 0) continue;
    if (!chainsTo(chain, ta)) continue;
    if (now < new Date(leaf.validFrom) || now > new Date(leaf.validTo)) return { resultType: 'certificate-expired', detail: `leaf certificate valid ${leaf.validFrom} – ${leaf.validTo}` };
    if (!names.some((n) => leaf.checkHost(n) !== undefined)) return { resultType: 'certificate-host-mismatch', detail: `certificate names none of ${names.join(', ')}` };
    return undefined;
  }
  return { resultType: 'tlsa-invalid', detail: `no certificate of the server matches its TLSA records (${use.map(tlsaText).join('; ')})` };
}

/** Each certificate from the leaf up to `ta` is issued and signed by the next one. */
function chainsTo(chain: readonly X509Certificate[], ta: number): boolean {
  for (let i = 0; i < ta; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return false;
  }
  return true;
}
