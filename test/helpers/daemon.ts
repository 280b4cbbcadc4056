import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A real daemon (clamd, rspamd, spamd) started by a test: found on disk or
 * PATH (a missing one fails the test with the package to install, never
 * skips it), its output kept for the failure message, its readiness waited
 * for with a bounded probe, and stopped by its own pid.
 */
export interface Daemon {
  readonly child: ChildProcess;
  /** The last output lines, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The absolute path of a program, or an error naming the Debian package that provides it. */
export function findProgram(names: readonly string[], debianPackage: string): string {
  for (const name of names) {
    if (name.startsWith('/') && existsSync(name)) return name;
    const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error(
    `${names.join(' / ')} not found: install the Debian package ${debianPackage} (listed in test/setup/debian-packages.ts; \`npm test\` installs it as root)`,
  );
}

/** A loopback TCP port that was free a moment ago (the daemon binds it itself). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function startDaemon(program: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Daemon {
  const child = spawn(program, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * Polls `ready` until it answers true, the daemon exits, or `timeoutMs`
 * passes (a bound, not a measurement): the error carries the daemon's output.
 */
export async function waitReady(d: Daemon, what: string, ready: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (d.child.exitCode !== null || d.child.signalCode !== null) {
      throw new Error(`${what} exited (${d.child.exitCode ?? d.child.signalCode}) before it was ready:\n${d.output()}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      await d.stop();
      throw new Error(`${what} not ready after ${timeoutMs} ms:\n${d.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Starts a daemon on ports from freePort(), again with fresh ports when one
 * was taken: freePort() closes its probe before the daemon binds, so on a
 * busy machine another process can take the port in between (CI saw rspamd
 * fail with "bind … Address already in use"). `start` must clean up after
 * itself when it throws. A bounded number of tries.
 */
export async function retryWhilePortTaken<T>(start: () => Promise<T>, tries = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (attempt >= tries || !(e instanceof Error) || !e.message.includes('Address already in use')) throw e;
    }
  }
}
