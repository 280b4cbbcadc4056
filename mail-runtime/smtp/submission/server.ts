import type { Logger } from '../../common/log';
import type { ConnectionLimit, ListenerKind, TlsMaterial } from '../../net';
import { SMTP_LIMITS, serveSmtp, type SmtpListener } from '../common';
import { auth, authGate } from './auth';
import { data } from './data';
import { mailFrom } from './mail-from';
import { rcptTo } from './rcpt-to';
import type { SubmissionDeps } from './types';

export interface SubmissionServerOptions extends SubmissionDeps {
  /** `plain`: port 587 with STARTTLS (RFC 6409, RFC 3207); `tls`: port 465, implicit TLS (RFC 8314 §3.3). */
  kind: ListenerKind;
  host: string;
  port: number;
  tls: TlsMaterial;
  /** The member's client connection bounds (shared with IMAP and POP3). */
  limit: ConnectionLimit;
  /** Networks of the proxies in front (config `proxyProtocolFrom`): their connections start with a PROXY v2 header. */
  proxyFrom?: readonly string[];
  maxMessageBytes: number;
  log: Logger;
}

/**
 * Message submission (RFC 6409) on the node: AUTH required before MAIL
 * (530 5.7.0), sender and From: must be the user's, hosted recipients
 * delivered at once, the rest queued.
 */
export function startSubmissionServer(opts: SubmissionServerOptions): Promise<SmtpListener> {
  const deps: SubmissionDeps = opts;
  return serveSmtp({
    protocol: 'submission',
    kind: opts.kind,
    host: opts.host,
    port: opts.port,
    hostname: opts.hostname,
    tls: opts.tls,
    limit: opts.limit,
    ...(opts.proxyFrom ? { proxyFrom: opts.proxyFrom } : {}),
    maxMessageBytes: opts.maxMessageBytes,
    maxCommandBytes: SMTP_LIMITS.submissionCommandBytes,
    auth: { gate: (ctx) => authGate(deps, ctx) },
    phases: {
      auth: (ctx, creds) => auth(deps, ctx, creds),
      mailFrom: (ctx, address) => mailFrom(deps, ctx, address),
      rcptTo: (ctx, address) => rcptTo(deps, ctx, address),
      data: (ctx, message) => data(deps, ctx, message),
    },
    log: opts.log,
  });
}
