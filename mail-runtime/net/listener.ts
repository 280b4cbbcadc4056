import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { TlsMaterial } from './tls';

/** How a listener speaks: plaintext (optionally with STARTTLS) or implicit TLS (RFC 8314 §3.3). */
export type ListenerKind = 'plain' | 'tls';

export interface ListenOptions {
  kind: ListenerKind;
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls?: TlsMaterial;
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
 * Starts a TCP or TLS listener and hands each connection to `onConnection`.
 * A socket error is logged by the session; here we only make sure an error
 * on one socket can never reach the process as an uncaught exception.
 */
export function listen(opts: ListenOptions, onConnection: (socket: Socket | TLSSocket, secure: boolean) => void): Promise<Listener> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  };
  let server: Server;
  if (opts.kind === 'tls') {
    if (!opts.tls) throw new Error('implicit TLS listener needs TLS material');
    server = createTlsServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, (socket) => {
      track(socket);
      onConnection(socket, true);
    });
    // Handshake failures of random scanners are not our errors.
    server.on('tlsClientError', () => undefined);
  } else {
    server = createNetServer((socket) => {
      track(socket);
      onConnection(socket, false);
    });
  }
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
