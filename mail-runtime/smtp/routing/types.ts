/**
 * Where a recipient's mail goes. Until the hub serves placement (issue 12)
 * the answer comes from RuntimeConfig (a static map or a single node); this
 * seam stays small so the hub's placement map replaces it.
 */

/** A node's LMTP endpoint (RFC 2033). */
export interface LmtpTarget {
  memberId: string;
  host: string;
  port: number;
}

export type Route =
  /** A hosted mailbox: deliver over LMTP to the node that owns it. */
  | { kind: 'local'; address: string; node: LmtpTarget }
  /** A hosted domain, but no such user (and no catch-all): refuse at RCPT (550 5.1.1). */
  | { kind: 'unknown-user'; address: string }
  /** Not a hosted domain: relay only for authenticated or allowed clients, via outbound delivery. */
  | { kind: 'remote'; address: string; domain: string };

export interface Router {
  route(address: string): Promise<Route>;
  /** Aliases and forwarding expand before routing (RFC 5321 §3.9). */
  expand?(address: string): Promise<readonly string[]>;
}
