import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findProgram, freePort, retryWhilePortTaken, startDaemon, waitReady, type Daemon } from './daemon';

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
  return retryWhilePortTaken(() => startHaproxyOnce(program, opts));
}

/** One try on a port from freePort(), in a temp dir of its own that it removes again when it fails. */
async function startHaproxyOnce(program: string, opts: { backendPort: number; source: string }): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-haproxy-'));
  const [port, monitorPort] = [await freePort(), await freePort()];
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
    // Readiness: haproxy binds every listener before it serves any, so an answer here
    // means the client port is haproxy's too (a connect alone could reach whoever took it).
    'frontend monitor',
    '  mode http',
    `  bind 127.0.0.1:${monitorPort}`,
    '  monitor-uri /ready',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  // -db: foreground, no daemon; -f: our config only.
  const d: Daemon = startDaemon(program, ['-db', '-f', join(dir, 'haproxy.cfg')]);
  try {
    // A taken port: haproxy exits with "cannot bind socket (Address already in use)", which waitReady's error carries.
    await waitReady(d, 'haproxy', async () => (await fetch(`http://127.0.0.1:${monitorPort}/ready`, { signal: AbortSignal.timeout(2000) })).status === 200, 30_000);
  } catch (e) {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    stop: async () => {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
