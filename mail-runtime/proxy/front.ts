import type { SecureContext } from 'node:tls';
import type { LoginLimiter } from '../auth';
import { LIMITS } from '../common/limits';
import type { Logger } from '../common/log';
import { encodeProxyV2, type AcceptedConnection, type PlaintextAuthPolicy } from '../net';
import type { PlacementCache, NoRoute, Route } from '../cluster';
import { BackendConnection } from './backend';

/**
 * Bounds of the proxy's pre-auth dialogue, beside the shared ones in
 * common/limits.ts (which the nodes use for the same protocols).
 */
export const PROXY_LIMITS = {
  /**
   * Longest IMAP command line before login. RFC 7162 §4 asks servers to
   * take 8192 octets; a LOGIN or AUTHENTICATE line needs far less.
   */
  imapPreAuthLineBytes: 8192,
  /** Largest literal before login (credentials only): the LITERAL- cap of RFC 7888 §4. */
  imapPreAuthLiteralBytes: LIMITS.imapNonSyncLiteralBytes,
  /** RFC 2449 §4 allows POP3 lines up to 255 octets; SASL PLAIN responses (RFC 5034 §4) need more. */
  pop3LineBytes: LIMITS.pop3LineBytes,
  /** Bad or refused commands before we say goodbye, as the node does. */
  badCommandsBeforeBye: LIMITS.imapBadCommandsBeforeBye,
} as const;

/** What every front-end session is given by the proxy. */
export interface FrontServices {
  cache: PlacementCache;
  limiter: LoginLimiter;
  log: Logger;
  plaintextAuth: PlaintextAuthPolicy;
  /** For STARTTLS / STLS on the plaintext ports. */
  tlsContext?: SecureContext;
  /** Failed logins on one connection before it is closed (`limits.loginFailuresPerConnection`). */
  failuresPerConnection: number;
  backendTimeoutMs: number;
  /** Start each node connection with a PROXY v2 header naming the client (config `proxy.sendProxyProtocol`). */
  sendProxyProtocol: boolean;
  /**
   * The cluster CA (config `clusterTls.caFile`): with it every node
   * connection is implicit TLS to the node's TLS port, verified against
   * this CA and the node's member id (backend.ts). Absent (a cluster with
   * no internal CA: the local one on loopback), the hop is plaintext.
   */
  backendCa?: string;
  sessions: SplicedSessions;
  /** Counts logins by protocol and outcome (/metrics). */
  countLogin(protocol: 'imap' | 'pop3' | 'submission', outcome: 'ok' | 'failed' | 'throttled' | 'unavailable'): void;
}

/**
 * What the proxy sends a node before anything else: with
 * `proxy.sendProxyProtocol`, the PROXY v2 header that tells the node who
 * the client is (its address and the proxy address it connected to), so
 * the node's per-address limits count that client and not the proxy.
 */
function backendPreamble(s: FrontServices, conn: AcceptedConnection): Buffer | undefined {
  if (!s.sendProxyProtocol) return undefined;
  return encodeProxyV2({ ip: conn.remoteIp, port: conn.remotePort }, { ip: conn.socket.localAddress ?? '0.0.0.0', port: conn.socket.localPort ?? 0 });
}

/**
 * The node port each front replays its login on. Over TLS it is the
 * implicit-TLS one (RFC 8314 §3.3): the PROXY v2 header goes first in the
 * clear and TLS starts right after it, the order of HAProxy's
 * `send-proxy-v2` + `ssl` (proxy-protocol.txt §2.2); STARTTLS would put a
 * plaintext dialogue in between that the proxy would have to speak per
 * protocol before anything is protected.
 */
const BACKEND_PORTS = {
  plain: { imap: 'imap', pop3: 'pop3', submission: 'submission' },
  tls: { imap: 'imaps', pop3: 'pop3s', submission: 'smtps' },
} as const;

/** Where `user`'s login goes: the owner node and the port for this hop (plain or TLS). */
export function backendRoute(s: FrontServices, user: string, protocol: keyof typeof BACKEND_PORTS.plain): Route | NoRoute {
  return s.cache.route(user, BACKEND_PORTS[s.backendCa ? 'tls' : 'plain'][protocol]);
}

/**
 * Opens the connection to the routed node: PROXY v2 header (if configured),
 * then TLS verified by the cluster CA (if configured). Until it is handed
 * over or destroyed, the login replayed on it counts as a pending session of
 * `user` at that node: a placement that moves the mailbox away calls it off
 * at once (the client gets its temporary failure then and retries at the new
 * owner) instead of waiting the backend timeout on a node that stopped.
 */
export function openBackend(s: FrontServices, conn: AcceptedConnection, route: Route, user: string): Promise<BackendConnection> {
  const calledOff = new AbortController();
  const forget = s.sessions.addPending({
    user,
    node: route.node,
    incarnation: route.incarnation,
    kill: () => calledOff.abort(new Error(`the placement moved ${user}'s mailbox away from node ${route.node} during the login`)),
  });
  return BackendConnection.open(route.host, route.port, s.backendTimeoutMs, backendPreamble(s, conn), s.backendCa ? { ca: s.backendCa, name: route.node } : undefined, {
    signal: calledOff.signal,
    ended: forget,
  });
}

/** A session that has been handed to a node. */
export interface Spliced {
  user: string;
  node: string;
  incarnation: number;
  kill(): void;
}

/**
 * Sessions piped to nodes. When the placement changes, a session whose
 * user now belongs to another node (or whose node died and came back as a
 * new incarnation) is ended: the client reconnects and reaches the new
 * owner. The old owner closes them too when it releases the mailbox; this
 * covers a node that cannot (it is gone).
 */
export class SplicedSessions {
  private readonly open = new Set<Spliced>();
  /** Logins being replayed on a node (openBackend); `kill` calls the replay off. */
  private readonly pending = new Set<Spliced>();

  add(s: Spliced): () => void {
    this.open.add(s);
    return () => this.open.delete(s);
  }

  addPending(s: Spliced): () => void {
    this.pending.add(s);
    return () => this.pending.delete(s);
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends the sessions `stillOwned` says no longer belong to their node, and calls off such logins; returns the sessions ended. */
  review(stillOwned: (s: Spliced) => boolean): number {
    for (const p of [...this.pending]) {
      if (stillOwned(p)) continue;
      this.pending.delete(p);
      p.kill();
    }
    let ended = 0;
    for (const s of [...this.open]) {
      if (stillOwned(s)) continue;
      this.open.delete(s);
      s.kill();
      ended++;
    }
    return ended;
  }

  killAll(): void {
    for (const s of [...this.pending, ...this.open]) s.kill();
    this.pending.clear();
    this.open.clear();
  }
}
