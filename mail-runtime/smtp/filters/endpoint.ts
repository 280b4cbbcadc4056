import { connect, type Socket } from 'node:net';

/** Where a scanner or milter listens: TCP `host:port` (`[v6]:port`) or a unix socket `unix:/path`. */
export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Parses a config address (already checked by the RuntimeConfig schema); throws naming it otherwise. */
export function parseEndpoint(address: string): Endpoint {
  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    if (path.startsWith('/')) return { kind: 'unix', path };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(address);
  if (m && Number(m[3]) >= 1 && Number(m[3]) <= 65535) return { kind: 'tcp', host: m[1] ?? m[2]!, port: Number(m[3]) };
  throw new Error(`not a scanner address: "${address}" (host:port, [v6]:port or unix:/path)`);
}

export function describeEndpoint(e: Endpoint): string {
  return e.kind === 'unix' ? `unix:${e.path}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/**
 * Opens a connection; the socket is destroyed when the signal aborts (the
 * filter's deadline or the client going away), so a peer that accepts and
 * then says nothing holds nothing of ours after the deadline.
 */
export function openSocket(e: Endpoint, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const socket = e.kind === 'unix' ? connect({ path: e.path }) : connect({ host: e.host, port: e.port });
    const onAbort = () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Reads a socket to its end (the peer closes after its reply: clamd, spamd),
 * bounded: more than `max` bytes is an error, not a bigger buffer.
 */
export function readToEnd(socket: Socket, max: number, what: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    socket.on('data', (d: Buffer) => {
      size += d.length;
      if (size > max) {
        socket.destroy();
        reject(new Error(`${what}: reply longer than ${max} bytes`));
        return;
      }
      parts.push(d);
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(parts)));
  });
}

/** Writes with back-pressure: waits for 'drain' when the socket's buffer is full; fails if it closes first. */
export function writeAll(socket: Socket, buf: Buffer): Promise<void> {
  if (socket.destroyed) return Promise.reject(new Error('the peer closed the connection'));
  if (socket.write(buf)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the peer closed the connection'));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}
