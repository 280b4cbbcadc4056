import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { normalizeIp } from './address';
import { ProxyTrust, readProxyHeader } from './proxy-protocol';
import { tlsHandshake } from './starttls';
import type { TlsMaterial } from './tls';

/** How a listener speaks: plaintext (optionally with STARTTLS) or implicit TLS (RFC 8314 §3.3). */
export type ListenerKind = 'plain' | 'tls';

/**
 * Node's own bound on an implicit-TLS handshake (`tls.Server`
 * `handshakeTimeout`), used when the caller gives none.
 */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 120_000;

export interface ListenOptions {
  kind: ListenerKind;
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls?: TlsMaterial;
  /** Implicit TLS: drop a connection whose handshake is not done this long after accept. */
  handshakeTimeoutMs?: number;
  /**
   * Called for every accepted TCP connection before anything else happens
   * (for implicit TLS: before the handshake), so limits count it from the
   * start; `peer` is the client (from the PROXY header when there is one).
   * `false`: the caller has dealt with the socket (refused it), the
   * listener does nothing more with it.
   */
  admit?: (raw: Socket, peer: Peer) => boolean;
  /**
   * Networks (CIDR) of trusted load balancers: a connection from one of them
   * must start with a PROXY protocol v2 header (./proxy-protocol.ts), whose
   * client address then stands for the connection's everywhere (limits,
   * sessions, logs). Empty or absent: no connection is asked for one.
   */
  proxyFrom?: readonly string[];
}

/** The client of a connection: the socket's peer, or the one a trusted balancer's PROXY header names. */
export interface Peer {
  ip: string;
  port: number;
  /** The balancer the connection came through, when it came through one. */
  via?: string;
}

export interface Listener {
  readonly kind: ListenerKind;
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  /** Sockets currently open. */
  connections(): number;
  /** Stops accepting, ends open sockets (after `graceMs`, destroys them) and resolves when closed. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts a TCP listener and hands each connection to `onConnection`: at
 * once for `plain`, after the TLS handshake for `tls` (`raw` is the TCP
 * socket under it; a failed or timed-out handshake destroys it and nothing
 * is handed over). Implicit TLS runs on a plain TCP server rather than a
 * `tls.Server` so that `admit` sees the connection before any handshake
 * work. A socket error is logged by the session; here we only make sure an
 * error on one socket can never reach the process as an uncaught exception.
 */
export function listen(opts: ListenOptions, onConnection: (socket: Socket | TLSSocket, secure: boolean, raw: Socket, peer: Peer) => void): Promise<Listener> {
  if (opts.kind === 'tls' && !opts.tls) throw new Error('implicit TLS listener needs TLS material');
  const sockets = new Set<Socket>();
  const trust = new ProxyTrust(opts.proxyFrom ?? []);
  const serve = (raw: Socket, peer: Peer, proxied: boolean): void => {
    if (opts.admit && !opts.admit(raw, peer)) return;
    if (opts.kind === 'plain') {
      onConnection(raw, false, raw, peer);
      // readProxyHeader left the socket paused: the session has attached its reader now.
      if (proxied) raw.resume();
      return;
    }
    // Handshake failures of random scanners are not our errors: the socket is gone, nothing else to do.
    const material = opts.tls as TlsMaterial;
    tlsHandshake(raw, material.context, opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, material.sni).then(
      (secure) => onConnection(secure, true, raw, peer),
      () => undefined,
    );
  };
  const server = createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.once('close', () => sockets.delete(raw));
    const own: Peer = { ip: normalizeIp(raw.remoteAddress), port: raw.remotePort ?? 0 };
    if (!trust.expects(own.ip)) {
      serve(raw, own, false);
      return;
    }
    // A balancer's connection: the client is whoever its header names (a bad header closes the socket).
    readProxyHeader(raw).then(
      (h) => serve(raw, h.command === 'proxy' ? { ip: h.sourceIp, port: h.sourcePort, via: own.ip } : own, true),
      () => undefined,
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', reject);
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      resolve({
        kind: opts.kind,
        host: opts.host,
        port,
        server,
        connections: () => sockets.size,
        close: (graceMs = 1000) =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.end();
            const t = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, graceMs);
            t.unref();
            if (!sockets.size) clearTimeout(t);
          }),
      });
    });
  });
}
