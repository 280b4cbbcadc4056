import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram, freePort, startDaemon, waitReady, type Daemon } from './daemon';

/**
 * A real HAProxy in TCP mode on loopback, relaying to one backend with
 * `send-proxy-v2` (what the deployed balancers do), from a fixed source
 * address so a test can trust exactly that address.
 */
export interface Haproxy {
  /** Where clients connect. */
  readonly port: number;
  stop(): Promise<void>;
}

export async function startHaproxy(opts: { backendPort: number; source: string }): Promise<Haproxy> {
  const program = findProgram(['haproxy', '/usr/sbin/haproxy'], 'haproxy');
  const dir = mkdtempSync(join(tmpdir(), 'mf-haproxy-'));
  const port = await freePort();
  const cfg = [
    'global',
    '  maxconn 200',
    'defaults',
    '  mode tcp',
    '  timeout connect 10s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend be',
    'backend be',
    `  server s1 127.0.0.1:${opts.backendPort} send-proxy-v2 source ${opts.source}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  // -db: foreground, no daemon; -f: our config only.
  const d: Daemon = startDaemon(program, ['-db', '-f', join(dir, 'haproxy.cfg')]);
  await waitReady(d, 'haproxy', () => new Promise<boolean>((resolve) => {
    // A probe that only connects and closes: the backend sees a connection that never sends a header, which it drops.
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  }), 30_000);
  return {
    port,
    stop: async () => {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
