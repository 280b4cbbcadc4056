import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { monotonicMs } from '../common/clock';
import type { Logger } from '../common/log';
import type { CertificateAnswer, CertificateRequest } from '../hub/protocol';

/**
 * A member's own certificate from the hub's cluster CA (issue 12): the
 * member makes a key pair here, keeps the private key, and sends the hub a
 * PKCS#10 request for the public key (RFC 2986; POST
 * /v1/cluster/certificate over the hub link, cluster token). The hub signs
 * a short-lived certificate naming exactly this member (its id, its
 * advertised host); the member checks it (our CA, our key, our id) and
 * serves it live to peers that ask for its id by SNI. It renews with a new
 * key after two thirds of the lifetime, on its monotonic clock; if renewal
 * keeps failing until the certificate expires, the role certificate the
 * deployment gave it (or none) is served again. A hub without the CA key
 * answers 503: the member keeps the role certificate and asks again later.
 */

/** After a failed request: first retry after this, doubling up to RETRY_MAX_MS (never past the current certificate's expiry). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** The hub cannot issue (no CA key) or refuses our names (a config matter): ask again this much later. */
const SLOW_RETRY_MS = 5 * 60_000;
/** Renew after this share of the lifetime: a third of it is left for retries and a hub failover. */
const RENEW_AT = 2 / 3;

export interface MemberCertificateOptions {
  memberId: string;
  /** The host peers reach this member at (RegisterRequest.advertise): named in the certificate too. */
  advertise: string;
  /** The CA this member trusts (`clusterTls.caFile`): the issued certificate must chain to it. */
  caPem: string;
  /** The member's incarnation while it is registered; undefined: not yet (the request waits). */
  incarnation(): number | undefined;
  /** One call to the hub; a refusal carries its HTTP `status` (HubClient/HubLink errors). */
  request(body: CertificateRequest, timeoutMs: number): Promise<CertificateAnswer>;
  /** Serves the pair (undefined: the fallback again); throws on a pair it cannot use. */
  apply(pair: { certPem: string; keyPem: string } | undefined): void;
  log: Logger;
}

export class MemberCertificate {
  private timer: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  /** Monotonic ms when the served certificate expires (by the hub's lifetime), or undefined when none is served. */
  private servedUntil: number | undefined;
  /** The served certificate's notAfter (metrics), or null. */
  notAfter: Date | null = null;
  /** Certificates received and applied since start (tests, metrics). */
  issued = 0;

  constructor(private readonly o: MemberCertificateOptions) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiry);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.renew(), ms);
    this.timer.unref();
  }

  /** After a failure: back off, but try again before the served certificate runs out. */
  private retry(ms?: number): void {
    let wait = ms ?? this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    if (this.servedUntil !== undefined) wait = Math.max(RETRY_MIN_MS, Math.min(wait, (this.servedUntil - monotonicMs()) / 4));
    this.schedule(wait);
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const incarnation = this.o.incarnation();
    if (incarnation === undefined) {
      this.retry(RETRY_MIN_MS);
      return;
    }
    const sent = monotonicMs();
    let pair: { certPem: string; keyPem: string };
    let answer: CertificateAnswer;
    try {
      const { csrPem, keyPem } = await makeRequest(this.o.memberId);
      const advertiseIsIp = isIP(this.o.advertise) !== 0;
      answer = await this.o.request(
        {
          memberId: this.o.memberId,
          incarnation,
          csrPem,
          names: advertiseIsIp || this.o.advertise.toLowerCase() === this.o.memberId ? [] : [this.o.advertise.toLowerCase()],
          ips: advertiseIsIp ? [this.o.advertise] : [],
        },
        10_000,
      );
      pair = { certPem: answer.certPem, keyPem };
      this.check(pair);
      if (this.stopped) return;
      this.o.apply(pair);
    } catch (err) {
      const status = (err as { status?: number }).status;
      // 503 without a CA key and 400/403 (names or key refused) will not change soon; 409: not registered (yet) at this hub.
      const slow = status === 400 || status === 403 || (status === 503 && /clusterCaKeyFile|unavailable/.test((err as Error).message));
      this.o.log[slow ? 'warn' : 'info']({ err: (err as Error).message }, 'cluster: no member certificate from the hub; serving the one we have');
      this.retry(slow ? SLOW_RETRY_MS : undefined);
      return;
    }
    this.issued++;
    this.retryMs = RETRY_MIN_MS;
    this.servedUntil = sent + answer.validForMs;
    this.notAfter = new Date(answer.notAfter);
    this.o.log.info({ notAfter: answer.notAfter, renewInMs: Math.round(answer.validForMs * RENEW_AT) }, 'cluster: member certificate from the hub applied');
    this.schedule(Math.max(RETRY_MIN_MS, sent + answer.validForMs * RENEW_AT - monotonicMs()));
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.expired(), Math.max(0, this.servedUntil - monotonicMs()));
    this.expiry.unref();
  }

  /** Not renewed in time: peers would refuse the expired certificate, the fallback may still be valid. */
  private expired(): void {
    if (this.stopped || this.servedUntil === undefined) return;
    const left = this.servedUntil - monotonicMs();
    if (left > 0) {
      // A timer may fire a little early on the monotonic clock: wait out the rest.
      this.expiry = setTimeout(() => this.expired(), Math.ceil(left));
      this.expiry.unref();
      return;
    }
    this.servedUntil = undefined;
    this.notAfter = null;
    this.o.log.warn('cluster: member certificate expired before it could be renewed; serving the fallback certificate');
    try {
      this.o.apply(undefined);
    } catch (err) {
      this.o.log.error({ err }, 'cluster: the fallback certificate cannot be served');
    }
  }

  /** The answer must chain to the CA we trust, certify our key, and name our member id (RFC 6125 §6.4.1: exact, no wildcard). */
  private check(pair: { certPem: string; keyPem: string }): void {
    const leaf = new X509Certificate(pair.certPem);
    const ca = new X509Certificate(this.o.caPem);
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw new Error('the hub answered with a certificate not signed by our cluster CA (clusterTls.caFile)');
    if (!leaf.checkPrivateKey(createPrivateKey(pair.keyPem))) throw new Error('the hub answered with a certificate for another key');
    if (leaf.checkHost(this.o.memberId, { wildcards: false, subject: 'never' }) === undefined) throw new Error(`the hub answered with a certificate that does not name ${this.o.memberId}`);
    if (Date.parse(leaf.validTo) <= Date.now()) throw new Error('the hub answered with an expired certificate');
  }
}

/** A fresh EC P-256 key (fast to make, what TLS 1.2/1.3 peers all accept) and a PKCS#10 request for it signed with it. */
async function makeRequest(memberId: string): Promise<{ csrPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${memberId}`, keys, signingAlgorithm: alg });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { csrPem: csr.toString('pem'), keyPem };
}
