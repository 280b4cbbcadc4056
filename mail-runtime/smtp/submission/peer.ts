import { createTransport } from 'nodemailer';
import { SMTP_LIMITS, parseReplyLine, reply } from '../common';
import type { Reply } from '../filters/types';
import type { LmtpTarget } from '../routing/types';

/** LMTP delivery to another node (the owner of a hosted mailbox): a reply per recipient. */
export interface PeerDelivery {
  deliver(target: LmtpTarget, mailFrom: string, recipients: readonly string[], message: Buffer): Promise<Map<string, Reply>>;
}

interface NodemailerError extends Error {
  response?: string;
  responseCode?: number;
  recipient?: string;
  rejectedErrors?: NodemailerError[];
}

/** A peer we could not talk to at all (down, refused, timed out): temporary, the message goes to the queue. */
const UNREACHABLE = (why: string): Reply => reply(451, '4.4.1', `Owner node unreachable: ${why}`);

/**
 * nodemailer's SMTP client in LMTP mode (RFC 2033): one connection per
 * delivery (submission to another node's mailbox is the exception; the
 * gateways carry the bulk), every timeout bounded. `hostname` is our LHLO
 * name, so the owner's Received names us.
 */
export const nodemailerPeers = (hostname: string): PeerDelivery => ({
  async deliver(target, mailFrom, recipients, message) {
    const transport = createTransport({
      host: target.host,
      port: target.port,
      lmtp: true,
      name: hostname,
      // Cluster-internal: the owner's LMTP offers no TLS (mail-runtime/smtp/lmtp/server.ts).
      ignoreTLS: true,
      connectionTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      greetingTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      socketTimeout: SMTP_LIMITS.lmtpClientTimeoutMs,
      logger: false,
    });
    const out = new Map<string, Reply>();
    const record = (errors: readonly NodemailerError[] | undefined): void => {
      for (const e of errors ?? []) if (e.recipient) out.set(e.recipient, parseReplyLine(e.response));
    };
    try {
      const info = await transport.sendMail({ envelope: { from: mailFrom, to: [...recipients] }, raw: message });
      record((info as { rejectedErrors?: NodemailerError[] }).rejectedErrors);
      for (const a of info.accepted) out.set(String(a), reply(250, '2.0.0', `<${String(a)}> delivered by ${target.memberId}`));
    } catch (err) {
      const e = err as NodemailerError;
      record(e.rejectedErrors);
      const fallback = e.response ? parseReplyLine(e.response) : UNREACHABLE(e.message);
      for (const r of recipients) if (!out.has(r)) out.set(r, fallback);
    } finally {
      transport.close();
    }
    // A recipient the peer never answered for is not delivered.
    for (const r of recipients) if (!out.has(r)) out.set(r, UNREACHABLE('no reply for this recipient'));
    return out;
  },
});
