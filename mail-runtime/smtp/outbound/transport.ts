import { readFile } from 'node:fs/promises';
import { checkServerIdentity, rootCertificates, type TLSSocket } from 'node:tls';
import type { DNSResolver } from 'mailauth';
import type { RuntimeConfigOf } from '../../config';
import { createLogger, type Logger } from '../../common/log';
import type { DeliveryResult, QueueEntry } from '../queue/types';
import { ArcSealer } from './arc';
import { SmtpError, SmtpSession, type TlsPolicy } from './client';
import { lookupTlsa, mxSecurity, tlsaText, usable, verifyDane, type TlsaRecord } from './dane';
import { DkimSigner } from './dkim';
import { DnssecResolver } from './dnssec';
import { domainOf } from './headers';
import { ConnectionLimiter } from './limiter';
import { OUTBOUND_LIMITS } from './limits';
import { MtaStsCache, httpsPolicyFetcher, mxMatches, parseStsTxt, type PolicyFetcher, type StsPolicy, type StsTxt } from './mta-sts';
import { createResolver, resolveAddresses, resolveMx } from './mx';
import { replyText, type SmtpReply } from './reply';
import { Srs } from './srs';
import { TlsReporter, type AppliedPolicy, type TlsFailure, type TlsReport } from './tls-report';
import type { OutboundConfig, OutboundTransport } from './types';

/** The fields of a gateway's (or an all-roles member's) RuntimeConfig the transport reads. */
export type OutboundSettings = Pick<RuntimeConfigOf<'gateway'>, 'hostname' | 'hostedDomains' | 'smarthost' | 'filters' | 'outbound'>;

/** What tests (and later the hub) may replace; everything has a production default. */
export interface OutboundDeps {
  logger?: Logger;
  /** How MTA-STS policies are fetched (default: HTTPS to mta-sts.<domain>:443 with the configured trust anchors). */
  fetchPolicy?: PolicyFetcher;
  /** Order among MX hosts of equal preference (default Math.random). */
  random?: () => number;
}

type Resolver = ReturnType<typeof createResolver>;

/** One host to try, with what TLS it owes us. */
interface Candidate {
  host: string;
  port: number;
  /** The domain itself, for lack of MX records (RFC 5321 §5.1): no address then means no mail service at all. */
  implicit?: boolean;
  /** MX path: DANE and MTA-STS apply; routes and the smarthost get opportunistic TLS. */
  policyScope?: { domain: string; dane: boolean; sts?: StsPolicy & { id: string } };
}

type Plan = { kind: 'deliver'; candidates: Candidate[] } | { kind: 'done'; result: DeliveryResult };

const deferred = (reply: string): DeliveryResult => ({ status: 'deferred', reply });
const failed = (reply: string): DeliveryResult => ({ status: 'failed', reply });

function fromReply(r: SmtpReply): DeliveryResult {
  const reply = replyText(r);
  if (r.code >= 200 && r.code < 300) return { status: 'delivered', reply };
  return r.code >= 500 ? failed(reply) : deferred(reply);
}

/** RFC 3461 §4: xtext for ENVID (printable ASCII but "+" and "=", the rest as +XX). */
function xtext(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => (b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d ? String.fromCharCode(b) : `+${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

const nonAscii = (s: string) => /[^\x00-\x7f]/.test(s);

/**
 * The outbound transport: per recipient domain a next hop (route,
 * smarthost, or MX with RFC 5321 §5.1 ordering), one connection per host
 * carrying every recipient of that domain (RCPT each, PIPELINING when
 * offered, further transactions beyond `maxRecipientsPerTransaction`), the
 * domain's TLS policy (DANE, else MTA-STS, else opportunistic), and DKIM
 * signing, ARC sealing and SRS for the mail that needs them.
 */
export class SmtpOutbound implements OutboundTransport {
  private readonly cfg: OutboundConfig;
  private readonly limiter: ConnectionLimiter;
  private readonly reporter: TlsReporter;
  private readonly log: Logger;
  private readonly hosted: Set<string>;

  private constructor(
    private readonly settings: OutboundSettings,
    private readonly parts: {
      dns: Resolver;
      dnssec?: DnssecResolver;
      sts?: MtaStsCache;
      ca?: string[];
      dkim: DkimSigner;
      srs?: Srs;
      arc?: ArcSealer;
      random: () => number;
    },
    logger: Logger,
  ) {
    this.cfg = settings.outbound;
    this.limiter = new ConnectionLimiter(this.cfg.maxConnectionsPerDestination, this.cfg.maxConnections);
    this.reporter = new TlsReporter(settings.hostname);
    this.log = logger;
    this.hosted = new Set(settings.hostedDomains.map((d) => d.toLowerCase()));
  }

  /** Reads the key and secret files the config names (a broken one stops the gateway here, naming the field). */
  static async create(settings: OutboundSettings, deps: OutboundDeps = {}): Promise<SmtpOutbound> {
    const cfg = settings.outbound;
    const dns = createResolver(cfg.resolvers);
    let ca: string[] | undefined;
    if (cfg.tls.caFile) {
      try {
        ca = [...rootCertificates, await readFile(cfg.tls.caFile, 'utf8')];
      } catch (err) {
        throw new Error(`outbound CA file ${cfg.tls.caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}; outbound.tls.caFile)`, { cause: err });
      }
    }
    const mailauthResolver: DNSResolver = (name, type) => dns.resolve(name, type) as Promise<string[][] | string[]>;
    const addressesOf = async (host: string) => {
      const r = await resolveAddresses(dns, host);
      return r.kind === 'addresses' ? r.addresses : [];
    };
    const sts = cfg.tls.mtaSts ? new MtaStsCache((d) => stsTxt(dns, d), deps.fetchPolicy ?? httpsPolicyFetcher({ resolve: addressesOf, ca })) : undefined;
    return new SmtpOutbound(
      settings,
      {
        dns,
        dnssec: cfg.tls.dane ? new DnssecResolver(cfg.resolvers) : undefined,
        sts,
        ca,
        dkim: await DkimSigner.load(cfg.dkim, settings.filters.dkim, settings.hostedDomains),
        srs: cfg.srs ? await Srs.fromConfig(cfg.srs) : undefined,
        arc: cfg.arc ? await ArcSealer.load(cfg.arc, settings.hostname, mailauthResolver) : undefined,
        random: deps.random ?? Math.random,
      },
      (deps.logger ?? createLogger({ role: 'gateway' })).child({ component: 'outbound' }),
    );
  }

  /** DKIM keys from the cluster settings (section `dkim`), used before the configured ones; throws, changing nothing, on a key it cannot use. */
  setClusterDkimKeys(keys: Record<string, { selector: string; privateKeyPem: string }> | undefined): void {
    this.parts.dkim.setClusterKeys(keys);
  }

  /** TLS reports (RFC 8460 JSON) per policy domain since the last call; sending them to `rua` is not implemented. */
  tlsReports(): TlsReport[] {
    return this.reporter.take();
  }

  /** Connections open now, for a destination key (`mx:<domain>`, `route:<host:port>`) or in total. */
  connectionsInUse(destination?: string): number {
    return this.limiter.inUse(destination);
  }

  async deliver(entry: QueueEntry, recipients: string[], message: Buffer, signal?: AbortSignal): Promise<DeliveryResult[]> {
    const results: (DeliveryResult | undefined)[] = recipients.map(() => undefined);
    const body = await this.prepare(entry, message);
    const from = this.envelopeFrom(entry);
    const byDomain = new Map<string, number[]>();
    recipients.forEach((r, i) => {
      const d = domainOf(r);
      if (!d) results[i] = failed(`553 5.1.3 ${JSON.stringify(r)} is not an address with a domain`);
      else byDomain.set(d, [...(byDomain.get(d) ?? []), i]);
    });
    await Promise.all(
      [...byDomain].map(async ([domain, idx]) => {
        const res = await this.deliverDomain(
          domain,
          idx.map((i) => recipients[i]!),
          from,
          body,
          entry,
          signal,
        );
        idx.forEach((i, k) => (results[i] = res[k]));
      }),
    );
    return results.map((r) => r ?? deferred('451 4.3.0 not attempted'));
  }

  /** DKIM for our users' mail and our DSNs; ARC for forwarded mail. A signing problem sends the message as it is (and says so in the log). */
  private async prepare(entry: QueueEntry, message: Buffer): Promise<Buffer> {
    try {
      if (entry.origin === 'submission' || entry.origin === 'dsn') return await this.parts.dkim.sign(message);
      if (entry.origin === 'forward' && this.parts.arc) return (await this.parts.arc.seal(message)).message;
    } catch (err) {
      this.log.warn({ entry: entry.id, err: (err as Error).message }, 'signing failed; sending unsigned');
    }
    return message;
  }

  /** SRS for forwarded mail from senders outside our domains (their SPF does not list us). */
  private envelopeFrom(entry: QueueEntry): string {
    const srs = this.parts.srs;
    if (entry.origin !== 'forward' || !srs || entry.mailFrom === '' || this.hosted.has(domainOf(entry.mailFrom))) return entry.mailFrom;
    try {
      return srs.forward(entry.mailFrom);
    } catch (err) {
      this.log.warn({ entry: entry.id, err: (err as Error).message }, 'SRS rewrite failed; forwarding with the original sender');
      return entry.mailFrom;
    }
  }

  private async deliverDomain(domain: string, rcpts: string[], from: string, body: Buffer, entry: QueueEntry, signal?: AbortSignal): Promise<DeliveryResult[]> {
    const out: (DeliveryResult | undefined)[] = rcpts.map(() => undefined);
    const pending = () => out.flatMap((r, i) => (r ? [] : [i]));
    const route = this.cfg.routes[domain] ?? this.settings.smarthost;
    const key = this.cfg.routes[domain] ? `route:${route}` : route ? `smarthost:${route}` : `mx:${domain}`;
    let release: () => void;
    try {
      release = await this.limiter.acquire(key, signal);
    } catch {
      return rcpts.map(() => deferred('451 4.3.2 delivery aborted before it started'));
    }
    let last = '451 4.4.1 no host of the destination could be reached';
    try {
      const plan = route ? staticPlan(route) : await this.mxPlan(domain);
      if (plan.kind === 'done') return rcpts.map(() => plan.result);
      let tried = 0;
      hosts: for (const c of plan.candidates) {
        const addrs = await resolveAddresses(this.parts.dns, c.host);
        if (addrs.kind === 'none' && c.implicit) {
          // RFC 5321 §5.1: no MX and no address records — the domain receives no mail.
          for (const i of pending()) out[i] = failed(`550 5.1.2 ${domain} has neither MX nor address records`);
          break;
        }
        if (addrs.kind !== 'addresses') {
          last = addrs.kind === 'none' ? `451 4.4.4 ${c.host} has no address (A/AAAA)` : `451 4.4.3 ${addrs.detail}`;
          continue;
        }
        const tls = await this.tlsFor(c);
        if ('skip' in tls) {
          last = `451 4.7.5 ${tls.skip}`;
          continue;
        }
        for (const address of addrs.addresses) {
          if (tried++ >= OUTBOUND_LIMITS.addressesPerAttempt) break hosts;
          const session = await this.open(address, c, tls.policy, tls.applied, signal).catch((err: SmtpError) => err);
          if (session instanceof Error) {
            last = session.resultReply;
            if (signal?.aborted) break hosts;
            continue;
          }
          try {
            await this.transactions(session, from, rcpts, out, body, entry);
          } catch (err) {
            last = err instanceof SmtpError ? err.resultReply : `451 4.3.0 ${(err as Error).message}`;
          } finally {
            await session.quit();
          }
          this.log.info({ entry: entry.id, domain, peer: session.peer, tls: session.tls?.protocol ?? 'none', results: out.map((r) => r?.status ?? 'pending') }, 'outbound session');
          if (!pending().length || signal?.aborted) break hosts;
        }
      }
      if (signal?.aborted) last = '451 4.3.2 delivery aborted (shutting down); will retry';
      for (const i of pending()) out[i] = deferred(last);
      return out as DeliveryResult[];
    } finally {
      release();
    }
  }

  /** Opens a session under the host's TLS policy, falling back to plaintext after a failed opportunistic handshake (RFC 7435 §6). */
  private async open(address: string, c: Candidate, tls: TlsPolicy, applied: AppliedPolicy | undefined, signal?: AbortSignal): Promise<SmtpSession> {
    const opts = { address, port: c.port, localName: this.settings.hostname, signal };
    let session: SmtpSession;
    try {
      session = await SmtpSession.open({ ...opts, tls });
    } catch (err) {
      const e = err as SmtpError;
      if (applied && e.tlsFailure) this.reporter.failure(applied, e.tlsFailure, { mxHost: c.host, ip: address });
      if (!(e instanceof SmtpError) || e.phase !== 'tls' || tls.mode !== 'opportunistic') throw err;
      session = await SmtpSession.open({ ...opts, tls: { mode: 'none' } });
      return session;
    }
    if (applied) {
      if (session.tls?.failure) this.reporter.failure(applied, session.tls.failure, { mxHost: c.host, ip: address });
      else if (!session.tls) this.reporter.failure(applied, { resultType: 'starttls-not-supported', detail: 'STARTTLS not offered' }, { mxHost: c.host, ip: address });
      else this.reporter.success(applied);
    }
    return session;
  }

  /** Every pending recipient over one session: as many transactions as `maxRecipientsPerTransaction` and 452 replies need. */
  private async transactions(session: SmtpSession, from: string, rcpts: string[], out: (DeliveryResult | undefined)[], body: Buffer, entry: QueueEntry): Promise<void> {
    let queue = out.flatMap((r, i) => (r ? [] : [i]));
    while (queue.length) {
      const batch = queue.slice(0, this.cfg.maxRecipientsPerTransaction);
      const carried = await this.transaction(session, from, batch, rcpts, out, body, entry);
      queue = [...carried, ...queue.slice(batch.length)];
    }
  }

  /** One MAIL/RCPT…/DATA transaction; returns the recipients the server asked to send in another one (452, RFC 5321 §4.5.3.1.10). */
  private async transaction(session: SmtpSession, from: string, batch: number[], rcpts: string[], out: (DeliveryResult | undefined)[], body: Buffer, entry: QueueEntry): Promise<number[]> {
    const ext = session.extensions;
    const set = (idx: readonly number[], r: DeliveryResult) => idx.forEach((i) => (out[i] = r));
    // RFC 6531 §3.4: internationalised addresses only to a server that offers SMTPUTF8.
    const utf8 = nonAscii(from) || batch.some((i) => nonAscii(rcpts[i]!));
    if (utf8 && !ext.has('SMTPUTF8')) {
      set(batch, failed(`553 5.6.7 ${session.peer} does not offer SMTPUTF8, which the addresses need (RFC 6531)`));
      return [];
    }
    // RFC 1870 §4: a server announcing SIZE n takes nothing larger; asking would only waste the transfer.
    const limit = Number(ext.get('SIZE') ?? 0);
    if (limit > 0 && body.length > limit) {
      set(batch, failed(`552 5.3.4 message of ${body.length} octets exceeds the ${limit} ${session.peer} accepts`));
      return [];
    }
    const params: string[] = [];
    if (ext.has('SIZE')) params.push(`SIZE=${body.length}`);
    if (ext.has('8BITMIME') && body.some((b) => b > 0x7f)) params.push('BODY=8BITMIME');
    if (utf8) params.push('SMTPUTF8');
    if (ext.has('DSN') && entry.dsn?.ret) params.push(`RET=${entry.dsn.ret}`);
    if (ext.has('DSN') && entry.dsn?.envid) params.push(`ENVID=${xtext(entry.dsn.envid)}`);
    const lines = [`MAIL FROM:<${from}>${params.length ? ` ${params.join(' ')}` : ''}`, ...batch.map((i) => `RCPT TO:<${rcpts[i]}>`)];
    const replies = await session.commands(lines, 'rcpt');
    const mail = replies[0]!;
    if (mail.code !== 250) {
      set(batch, fromReply(mail));
      await session.command('RSET', 'rset');
      return [];
    }
    const accepted: number[] = [];
    const carried: number[] = [];
    batch.forEach((i, k) => {
      const r = replies[k + 1]!;
      if (r.code >= 200 && r.code < 300) accepted.push(i);
      else if (r.code === 452 && accepted.length) carried.push(i);
      else out[i] = fromReply(r);
    });
    if (!accepted.length) {
      await session.command('RSET', 'rset');
      return [];
    }
    let final: SmtpReply;
    try {
      final = await session.data(body);
    } catch (err) {
      if (err instanceof SmtpError && err.phase === 'dot') {
        set(accepted, deferred(`451 4.4.2 connection to ${session.peer} lost after the message was sent; retried (it may arrive twice)`));
        set(carried, deferred('451 4.4.2 connection lost'));
      }
      throw err;
    }
    set(accepted, fromReply(final));
    return carried;
  }

  /** MX lookup and the policy that comes with it (DANE's MX security, the MTA-STS policy). */
  private async mxPlan(domain: string): Promise<Plan> {
    const mx = await resolveMx(this.parts.dns, domain, this.settings.hostname, this.parts.random);
    switch (mx.kind) {
      case 'null':
        // RFC 7505 §4.1 (code 556) and RFC 3463 / RFC 7505 §4.3 (5.1.10).
        return { kind: 'done', result: failed(`556 5.1.10 ${domain} does not accept mail (null MX, RFC 7505)`) };
      case 'no-domain':
        return { kind: 'done', result: failed(`550 5.1.2 ${domain} does not exist (NXDOMAIN)`) };
      case 'loop':
        return { kind: 'done', result: failed(`554 5.4.6 mail for ${domain} loops back to ${this.settings.hostname} (we are its best MX)`) };
      case 'temp-error':
        return { kind: 'done', result: deferred(`451 4.4.3 ${mx.detail}`) };
    }
    let dane = false;
    if (this.parts.dnssec) {
      const sec = await mxSecurity(this.parts.dnssec, domain);
      // RFC 7672 §2.2.1: a validated MX RRset we cannot read now is a reason to wait, not to downgrade.
      if (sec.kind === 'error') return { kind: 'done', result: deferred(`451 4.7.5 DNSSEC lookup failed: ${sec.detail}`) };
      dane = sec.kind === 'secure';
    }
    const sts = this.parts.sts ? await this.parts.sts.lookup(domain) : {};
    const applied: AppliedPolicy | undefined = sts.policy ? stsApplied(domain, sts.policy) : undefined;
    if (sts.failure) this.reporter.failure(applied ?? { type: 'no-policy-found', domain }, sts.failure, {});
    let hosts = mx.hosts;
    if (sts.policy) {
      const matching = hosts.filter((h) => sts.policy!.mx.some((p) => mxMatches(h.name, p)));
      if (matching.length < hosts.length) {
        for (const h of hosts.filter((x) => !matching.includes(x))) {
          this.reporter.failure(applied!, { resultType: 'validation-failure', detail: `MX ${h.name} is not in the MTA-STS policy` }, { mxHost: h.name });
        }
      }
      // RFC 8461 §5: in enforce mode only the hosts the policy lists are candidates; testing only reports.
      if (sts.policy.mode === 'enforce') {
        if (!matching.length) return { kind: 'done', result: deferred(`451 4.7.5 no MX host of ${domain} matches its MTA-STS policy (enforce)`) };
        hosts = matching;
      }
    }
    return { kind: 'deliver', candidates: hosts.map((h) => ({ host: h.name, port: this.cfg.mxPort, implicit: mx.implicit, policyScope: { domain, dane, sts: sts.policy } })) };
  }

  /** DANE when the host has validated TLSA records, else the domain's MTA-STS policy, else opportunistic TLS. */
  private async tlsFor(c: Candidate): Promise<{ policy: TlsPolicy; applied?: AppliedPolicy } | { skip: string }> {
    const scope = c.policyScope;
    if (!scope) return { policy: { mode: 'opportunistic', servername: c.host } };
    if (scope.dane && this.parts.dnssec) {
      const t = await lookupTlsa(this.parts.dnssec, c.host, c.port);
      if (t.kind === 'error') {
        this.reporter.failure({ type: 'tlsa', domain: scope.domain }, { resultType: 'dnssec-invalid', detail: t.detail }, { mxHost: c.host });
        return { skip: t.detail };
      }
      if (t.kind === 'records') {
        const records: TlsaRecord[] = t.records;
        const names = [c.host, scope.domain];
        return {
          policy: { mode: 'required', servername: c.host, verify: records.some(usable) ? (s: TLSSocket) => verifyDane(s, records, names) : undefined },
          applied: { type: 'tlsa', domain: scope.domain, strings: records.map(tlsaText) },
        };
      }
    }
    if (scope.sts) {
      const enforce = scope.sts.mode === 'enforce';
      return {
        policy: { mode: enforce ? 'required' : 'opportunistic', servername: c.host, ca: this.parts.ca, verify: (s) => pkixVerify(s, c.host) },
        applied: stsApplied(scope.domain, scope.sts),
      };
    }
    return { policy: { mode: 'opportunistic', servername: c.host }, applied: { type: 'no-policy-found', domain: scope.domain } };
  }
}

function staticPlan(hostPort: string): Plan {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(hostPort)!;
  return { kind: 'deliver', candidates: [{ host: m[1] ?? m[2]!, port: Number(m[3]) }] };
}

function stsApplied(domain: string, p: StsPolicy): AppliedPolicy {
  return { type: 'sts', domain, strings: p.lines, mxHosts: p.mx };
}

/** MTA-STS's certificate check (RFC 8461 §4.2): a chain to a trusted root and a name matching the MX host. */
function pkixVerify(socket: TLSSocket, host: string): TlsFailure | undefined {
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? 'unknown');
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return { resultType: 'certificate-expired', detail: code };
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { resultType: 'certificate-host-mismatch', detail: `certificate does not name ${host}` };
    return { resultType: 'certificate-not-trusted', detail: code };
  }
  const mismatch = checkServerIdentity(host, socket.getPeerCertificate());
  return mismatch ? { resultType: 'certificate-host-mismatch', detail: mismatch.message } : undefined;
}

async function stsTxt(dns: Resolver, domain: string): Promise<StsTxt> {
  try {
    const id = parseStsTxt((await dns.resolveTxt(`_mta-sts.${domain}`)).map((chunks) => chunks.join('')));
    return id ? { kind: 'id', id } : { kind: 'none' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'ENODATA' ? { kind: 'none' } : { kind: 'error', detail: String(code ?? err) };
  }
}
