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
export class GatewayRelay implements QueueWriter {
  constructor(
    private readonly relay: { host: string; port: number },
    private readonly hostname: string,
    /** This member's id and the cluster token. */
    private readonly auth?: { user: string; pass: string },
  ) {}

  async enqueue(entry: Parameters<QueueWriter['enqueue']>[0], message: Buffer): Promise<string> {
    const transport = createTransport({
      host: this.relay.host,
      port: this.relay.port,
      name: this.hostname,
      // Cluster-internal hop; TLS when the gateway offers it, never a hard requirement on a self-signed certificate.
      tls: { rejectUnauthorized: false },
      // The token crosses the network only under STARTTLS (the gateway refuses plaintext AUTH from anything but loopback).
      ...(this.auth ? { auth: { user: this.auth.user, pass: this.auth.pass, method: 'PLAIN' }, requireTLS: !isLoopback(this.relay.host) } : {}),
      connectionTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      greetingTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      socketTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      logger: false,
    });
    try {
      const to = entry.recipients.map((r) => r.address);
      const info = await transport.sendMail({ envelope: { from: entry.mailFrom, to }, raw: message });
      if (info.rejected.length > 0) throw new Error(`gateway relay refused ${info.rejected.map(String).join(', ')}: ${info.response}`);
      // The gateway's "250 2.6.0 Ok: queued as <id>" names its queue entry.
      return /queued as (\S+)/.exec(info.response)?.[1] ?? info.response;
    } finally {
      transport.close();
    }
  }
}
