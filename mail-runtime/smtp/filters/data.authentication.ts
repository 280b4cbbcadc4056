import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import { budgetedResolver, systemResolver } from './dns-cache';
import { deleteAll, parseHeaderFields, unfold } from './headers';
import { reject } from './reply';
import type { Filter, FilterResult, HeaderEdit } from './types';


export interface AuthenticationFilterOptions {
  /** Our host name: the authserv-id of the Authentication-Results header (RFC 8601 §2.5). */
  hostname: string;
  /**
   * Author domains whose DMARC `p=reject` (and `p=quarantine`) we do not
   * enforce: a domain and its subdomains. For senders whose legitimate mail
   * fails DMARC on its way here (a mailing list that rewrites messages).
   */
  allowlist: readonly string[];
  timeoutMs: number;
  /**
   * What all DNS lookups of one message may take together: past it the
   * rest fail as time-outs and the checks they served say `temperror`
   * (RFC 8601 §2.7), and the message goes on. Capped at 80 % of timeoutMs,
   * so a dead resolver costs each message this budget, never the filter's time-out.
   */
  lookupTimeoutMs: number;
  onError: 'tempfail' | 'accept';
  /** DNS lookups (mailauth's resolver shape: `dns.promises.resolve`); default: the system's, cached (dns-cache.ts). */
  resolver?: DNSResolver;
  /** For DMARC `pct` sampling (RFC 7489 §6.6.4); Math.random unless a test fixes it. */
  random?: () => number;
}

/**
 * SPF (RFC 7208), DKIM (RFC 6376), ARC (RFC 8617) and DMARC (RFC 7489) at
 * the data phase, all by mailauth, which needs the whole message (DKIM body
 * hashes) and the envelope (SPF). What it found goes into an
 * Authentication-Results header (RFC 8601) with our host name as
 * authserv-id and a Received-SPF header (RFC 7208 §9.1), both at the top
 * of the header (RFC 8601 §4: added above the fields already there).
 *
 * Policy: a DMARC failure for an author domain that publishes `p=reject`
 * is refused with 550 5.7.1 (RFC 7489 §6.6.3, §7.3: refuse at SMTP time);
 * `p=quarantine` sends the message to Junk; an allowlisted domain is
 * delivered normally. SPF or DKIM failing alone decides nothing: DMARC is
 * the author domain's statement of what should happen. ARC is verified and
 * reported; it overrides no DMARC failure (there is no list of trusted
 * sealers yet, and an untrusted ARC chain proves nothing).
 */
export function authenticationFilter(opts: AuthenticationFilterOptions): Filter {
  const base = opts.resolver ?? systemResolver();
  // The lookups end before the filter's own deadline: at most 80 % of it, the rest for mailauth's work and the headers.
  const budgetMs = Math.max(1, Math.min(opts.lookupTimeoutMs, Math.floor(opts.timeoutMs * 0.8)));
  const authservId = opts.hostname.toLowerCase();
  const random = opts.random ?? Math.random;
  return {
    name: 'data.authentication',
    phases: ['data'],
    timeoutMs: opts.timeoutMs,
    onError: opts.onError,
    async run(ctx): Promise<FilterResult> {
      if (!ctx.message) return { verdict: { kind: 'continue' } };
      // mailauth takes no AbortSignal: once the chain has given up, or the message's DNS budget is spent, every further lookup fails at once.
      const resolver = budgetedResolver(base, budgetMs, ctx.signal);
      const message = await ctx.message.bytes();
      const result = await authenticate(message, {
        ip: ctx.session.remoteIp,
        helo: ctx.session.helo,
        // The null reverse-path (RFC 5321 §4.5.5): SPF checks the HELO identity instead (RFC 7208 §2.4).
        sender: ctx.envelope.mailFrom || undefined,
        mta: opts.hostname,
        resolver,
        disableBimi: true,
      });
      const notes = summary(result);

      const edits: HeaderEdit[] = [
        // RFC 8601 §5: remove fields that claim our authserv-id; a sender forged them.
        ...deleteAll(parseHeaderFields(message), 'Authentication-Results', (f) => authservIdOf(f.raw) !== authservId),
        ...ourHeaders(result.headers),
      ];

      const dmarc = result.dmarc;
      if (dmarc && dmarc.status.result === 'fail') {
        const fromDomain = (result.dkim.headerFrom[0] ?? '').split('@').pop()!.toLowerCase();
        const policy = sampled(dmarc.policy, dmarc.pct, random);
        if (policy !== 'none' && allowlisted(fromDomain, opts.allowlist)) {
          ctx.log.info({ domain: fromDomain, policy }, 'DMARC failure for an allowlisted domain: delivered');
          return { verdict: { kind: 'continue' }, headers: edits, notes: { ...notes, allowlisted: true } };
        }
        if (policy === 'reject') {
          return {
            verdict: reject(550, '5.7.1', `message refused: it fails the DMARC policy of ${fromDomain} (p=reject)`),
            notes,
          };
        }
        if (policy === 'quarantine') return { verdict: { kind: 'continue' }, headers: edits, folder: 'junk', notes };
      }
      return { verdict: { kind: 'continue' }, headers: edits, notes };
    },
  };
}

/** mailauth's header block → add edits at the top, keeping Authentication-Results first. */
function ourHeaders(block: string): HeaderEdit[] {
  // The parser works on octets (latin1 keeps them one to one); the values go back to text as the UTF-8 they are.
  const fields = parseHeaderFields(Buffer.from(`${block}\r\n`, 'utf8')).map((f) => ({ ...f, raw: Buffer.from(f.raw, 'latin1').toString('utf8') }));
  const ar = fields.filter((f) => f.name.toLowerCase() === 'authentication-results');
  const rest = fields.filter((f) => f.name.toLowerCase() !== 'authentication-results');
  // Each add at index 0 lands above the previous one: add in reverse of the wanted order.
  return [...ar, ...rest].reverse().map((f) => ({ op: 'add' as const, name: f.name, value: f.raw.replace(/^[ \t]+/, ''), index: 0 }));
}

/** RFC 8601 §2.2: the value starts with the authserv-id, optionally followed by a version, before the first ";". */
function authservIdOf(raw: string): string {
  return (unfold(raw).split(';', 1)[0] ?? '').replace(/\([^)]*\)/g, '').trim().split(/\s+/, 1)[0]!.toLowerCase();
}

function allowlisted(domain: string, list: readonly string[]): boolean {
  return list.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`));
}

/**
 * RFC 7489 §6.6.4: `pct` is the share of failing mail the policy applies to;
 * the rest gets the next policy down (reject → quarantine → none).
 */
function sampled(policy: string, pct: number | undefined, random: () => number): 'reject' | 'quarantine' | 'none' {
  const p = policy === 'reject' || policy === 'quarantine' ? policy : 'none';
  if (p === 'none' || pct === undefined || pct >= 100 || random() * 100 < pct) return p;
  return p === 'reject' ? 'quarantine' : 'none';
}

/** One word per method for the log line. */
function summary(r: AuthenticateResult): Record<string, string> {
  const dkim = r.dkim.results ?? [];
  return {
    spf: r.spf ? r.spf.status.result : 'none',
    dkim: dkim.some((x) => x.status.result === 'pass') ? 'pass' : (dkim[0]?.status.result ?? 'none'),
    dmarc: r.dmarc ? r.dmarc.status.result : 'none',
    arc: r.arc ? r.arc.status.result : 'none',
  };
}
