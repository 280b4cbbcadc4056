import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { createTransport } from 'nodemailer';
import { isLoopback } from '../../net';
import { SMTP_LIMITS } from '../common';
import type { QueueWriter } from '../queue/types';

/**
 * The node's outbound queue is a gateway's: submitted mail for recipients
 * outside this node's mailboxes is relayed over SMTP (config
 * `gatewayRelay`) to the gateway's relay listener, logging in with AUTH
 * PLAIN as this member with the cluster token (`auth`); without a token, to
 * a gateway that takes it from a network in its `relayNetworks` (RFC 5321
 * §3.9: relaying only for our own networks).
 * The gateway answers 250 only once the message is in its durable queue
 * (fsynced), so our 250 to the client keeps the same guarantee; from there
 * the gateway delivers it (LMTP to the owning node, or outbound, with
 * retries and DSNs).
 *
 * All or nothing, as QueueWriter promises: when the gateway refuses any
 * recipient or the message, enqueue rejects and the client is told to try
 * again (451 4.3.0); nothing is half accepted.
 */
/** What the relay hop verifies the gateway by (GatewayRelay). */
export interface RelayTrust {
  /** PEM certificates the gateway's certificate may chain to (or be). */
  pems: readonly string[];
  /** Node's built-in roots too (a gateway with a publicly issued certificate). */
  systemRoots: boolean;
  /** What was checked against, for the error that names an untrusted certificate. */
  what: string;
}

export class GatewayRelay implements QueueWriter {
  constructor(
    private readonly relay: { host: string; port: number },
    private readonly hostname: string,
    /** This member's id and the cluster token. */
    private readonly auth?: { user: string; pass: string },
    /**
     * What the gateway's relay certificate must chain to (the node decides,
     * node/from-config.ts relayTrust): the cluster-internal CA alone where
     * there is one (every gateway presents a certificate from it); without
     * a CA, the cluster's own public certificate (a self-signed one is the
     * same on every member) and the system roots. With any of it the hop is
     * always TLS and verified, loopback included; with none, a relay off
     * loopback is verified against the system roots, and only a loopback
     * relay (the local cluster's self-signed certificate, a hop no other
     * host can see) goes unverified.
     */
    private readonly trust?: RelayTrust,
  ) {}

  /** TLS for the hop (RFC 3207 STARTTLS; RFC 8314 §5.1: the certificate is checked for the name we connect to). */
  private tls(): { requireTLS: boolean; tls: { rejectUnauthorized: boolean; ca?: string; servername?: string } } {
    const loopback = isLoopback(this.relay.host);
    const servername = isIP(this.relay.host) ? undefined : this.relay.host;
    // A custom `ca` replaces Node's roots: they are added back only where the trust says so.
    if (this.trust) {
      const ca = [...this.trust.pems, ...(this.trust.systemRoots ? rootCertificates : [])].join('\n');
      return { requireTLS: true, tls: { rejectUnauthorized: true, ca, ...(servername ? { servername } : {}) } };
    }
    if (loopback) return { requireTLS: false, tls: { rejectUnauthorized: false } };
    // The token crosses the network only under verified STARTTLS.
    return { requireTLS: true, tls: { rejectUnauthorized: true, ...(servername ? { servername } : {}) } };
  }

  async enqueue(entry: Parameters<QueueWriter['enqueue']>[0], message: Buffer): Promise<string> {
    const { requireTLS, tls } = this.tls();
    const transport = createTransport({
      host: this.relay.host,
      port: this.relay.port,
      name: this.hostname,
      tls,
      requireTLS,
      ...(this.auth ? { auth: { user: this.auth.user, pass: this.auth.pass, method: 'PLAIN' } } : {}),
      connectionTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      greetingTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      socketTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      logger: false,
    });
    try {
      const to = entry.recipients.map((r) => r.address);
      let info;
      try {
        info = await transport.sendMail({ envelope: { from: entry.mailFrom, to }, raw: message });
      } catch (err) {
        throw this.explain(err);
      }
      if (info.rejected.length > 0) throw new Error(`gateway relay refused ${info.rejected.map(String).join(', ')}: ${info.response}`);
      // The gateway's "250 2.6.0 Ok: queued as <id>" names its queue entry.
      return /queued as (\S+)/.exec(info.response)?.[1] ?? info.response;
    } finally {
      transport.close();
    }
  }

  /** A certificate the hop does not trust is named as such (the operator's fix is the CA, not the network). */
  private explain(err: unknown): unknown {
    const text = err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err);
    if (!/certificate|self[- ]signed|altname|CERT_|UNABLE_TO_VERIFY/i.test(text)) return err;
    const against = this.trust?.what ?? 'the system roots';
    return new Error(`gateway relay ${this.relay.host}:${this.relay.port}: TLS certificate not trusted, checked against ${against}: ${err instanceof Error ? err.message : text}`, { cause: err });
  }
}
