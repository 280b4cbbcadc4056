/**
 * TLS reporting (RFC 8460): what happened to TLS for each policy domain,
 * collected in memory in the report's own JSON shape. Sending reports to the
 * domains' `rua` addresses (TXT `_smtp._tls.<domain>`) is not done yet: the
 * collector exposes the reports for an operator (or a later sender) to read.
 */

/** RFC 8460 §4.3 result types. */
export type TlsResultType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

export interface TlsFailure {
  resultType: TlsResultType;
  detail: string;
}

export type PolicyType = 'sts' | 'tlsa' | 'no-policy-found';

/** The policy a session ran under, as the report names it (RFC 8460 §4.4). */
export interface AppliedPolicy {
  type: PolicyType;
  domain: string;
  /** The policy's text lines (MTA-STS file lines, TLSA records as presentation text). */
  strings?: string[];
  /** MX patterns of an MTA-STS policy. */
  mxHosts?: string[];
}

interface FailureDetail {
  'result-type': TlsResultType;
  'sending-mta-ip'?: string;
  'receiving-mx-hostname'?: string;
  'receiving-ip'?: string;
  'failed-session-count': number;
  'additional-information'?: string;
}

export interface TlsReport {
  'organization-name': string;
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info': string;
  'report-id': string;
  policies: {
    policy: { 'policy-type': PolicyType; 'policy-string'?: string[]; 'policy-domain': string; 'mx-host'?: string[] };
    summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
    'failure-details'?: FailureDetail[];
  }[];
}

interface Bucket {
  policy: AppliedPolicy;
  ok: number;
  failed: number;
  details: Map<string, FailureDetail>;
}

/** Bounds what a flood of distinct failures can make us keep (per domain and in total). */
const MAX_DOMAINS = 10_000;
const MAX_DETAILS_PER_POLICY = 100;

export class TlsReporter {
  private buckets = new Map<string, Bucket>();
  private since: Date;

  constructor(
    private readonly reportingMta: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.since = now();
  }

  success(policy: AppliedPolicy): void {
    const b = this.bucket(policy);
    if (b) b.ok++;
  }

  failure(policy: AppliedPolicy, f: TlsFailure, where: { mxHost?: string; ip?: string }): void {
    const b = this.bucket(policy);
    if (!b) return;
    b.failed++;
    const key = `${f.resultType}|${where.mxHost ?? ''}|${where.ip ?? ''}`;
    const d = b.details.get(key);
    if (d) d['failed-session-count']++;
    else if (b.details.size < MAX_DETAILS_PER_POLICY) {
      b.details.set(key, {
        'result-type': f.resultType,
        'receiving-mx-hostname': where.mxHost,
        'receiving-ip': where.ip,
        'failed-session-count': 1,
        'additional-information': f.detail.slice(0, 200),
      });
    }
  }

  /** One report per policy domain since the last `take` (RFC 8460 §4: one per domain and day), and a fresh period. */
  take(): TlsReport[] {
    const end = this.now();
    const start = this.since;
    const byDomain = new Map<string, Bucket[]>();
    for (const b of this.buckets.values()) byDomain.set(b.policy.domain, [...(byDomain.get(b.policy.domain) ?? []), b]);
    const reports: TlsReport[] = [...byDomain].map(([domain, buckets]) => ({
      'organization-name': this.reportingMta,
      'date-range': { 'start-datetime': start.toISOString(), 'end-datetime': end.toISOString() },
      'contact-info': `postmaster@${this.reportingMta}`,
      'report-id': `${start.toISOString()}_${domain}@${this.reportingMta}`,
      policies: buckets.map((b) => ({
        policy: {
          'policy-type': b.policy.type,
          'policy-string': b.policy.strings,
          'policy-domain': domain,
          'mx-host': b.policy.mxHosts,
        },
        summary: { 'total-successful-session-count': b.ok, 'total-failure-session-count': b.failed },
        'failure-details': b.details.size ? [...b.details.values()] : undefined,
      })),
    }));
    this.buckets = new Map();
    this.since = end;
    return reports;
  }

  private bucket(policy: AppliedPolicy): Bucket | undefined {
    const key = `${policy.domain}|${policy.type}|${(policy.strings ?? []).join('\n')}`;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_DOMAINS) return undefined;
      b = { policy, ok: 0, failed: 0, details: new Map() };
      this.buckets.set(key, b);
    }
    return b;
  }
}
