import type { Logger } from '../../common/log';
import { ConnectionLimit, type TlsMaterial } from '../../net';
import { SMTP_LIMITS, serveSmtp, type SmtpListener } from '../common';
import { data } from './data';
import { mailFrom } from './mail-from';
import { rcptTo } from './rcpt-to';
import type { LmtpDeps } from './types';

export interface LmtpServerOptions extends LmtpDeps {
  host: string;
  port: number;
  tls: TlsMaterial;
  maxMessageBytes: number;
  log: Logger;
  /** Default: its own bound of SMTP_LIMITS.lmtpMaxConnections (delivery must not compete with client connections). */
  limit?: ConnectionLimit;
}

/**
 * The node's LMTP listener (RFC 2033): gateways deliver here, one reply per
 * recipient after DATA.
 *
 * Cluster-internal only. LMTP has no authentication (RFC 2033 §6 leaves
 * access control to the deployment) and this listener trusts the folder
 * hint of the gateway, so it must never be reachable from outside the
 * cluster: components/ renders it on the member's cluster address, and the
 * platform's network policy admits only the gateways
 * (components/platforms/kubernetes/network-policy.ts: gateways → nodes,
 * LMTP). No STARTTLS and no AUTH are offered.
 */
export function startLmtpServer(opts: LmtpServerOptions): Promise<SmtpListener> {
  const deps: LmtpDeps = { directory: opts.directory, owns: opts.owns, delivery: opts.delivery, hostname: opts.hostname };
  return serveSmtp({
    protocol: 'lmtp',
    kind: 'plain',
    host: opts.host,
    port: opts.port,
    hostname: opts.hostname,
    tls: opts.tls,
    limit: opts.limit ?? new ConnectionLimit(SMTP_LIMITS.lmtpMaxConnections),
    maxMessageBytes: opts.maxMessageBytes,
    maxCommandBytes: SMTP_LIMITS.lmtpCommandBytes,
    phases: {
      mailFrom,
      rcptTo: (ctx, address) => rcptTo(deps, ctx, address),
      data: (ctx, message) => data(deps, ctx, message),
    },
    log: opts.log,
  });
}
