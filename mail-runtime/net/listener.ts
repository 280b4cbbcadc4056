import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
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
   * start. `false`: the caller has dealt with the socket (refused it), the
   * listener does nothing more with it.
   */
  admit?: (raw: Socket) => boolean;
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
export function listen(opts: ListenOptions, onConnection: (socket: Socket | TLSSocket, secure: boolean, raw: Socket) => void): Promise<Listener> {
  if (opts.kind === 'tls' && !opts.tls) throw new Error('implicit TLS listener needs TLS material');
  const sockets = new Set<Socket>();
  const server = createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.once('close', () => sockets.delete(raw));
    if (opts.admit && !opts.admit(raw)) return;
    if (opts.kind === 'plain') {
      onConnection(raw, false, raw);
      return;
    }
    // Handshake failures of random scanners are not our errors: the socket is gone, nothing else to do.
    tlsHandshake(raw, (opts.tls as TlsMaterial).context, opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS).then(
      (secure) => onConnection(secure, true, raw),
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
