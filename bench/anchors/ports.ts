import { createServer, type Server } from 'node:net';

/**
 * `n` distinct loopback ports that were free a moment ago. Postfix and
 * Dovecot cannot be told to pick a port and report it (as the mailfleet node
 * does with port 0), so the bench asks the OS for ephemeral ports, closes
 * them, and hands them over; a start that still collides is retried by the
 * caller with new ports.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
      const addr = s.address();
      if (!addr || typeof addr === 'string') throw new Error('no port from the OS');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
