import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * The ports freePort() hands out in this test process. Below the kernel's
 * ephemeral range (/proc/sys/net/ipv4/ip_local_port_range): the kernel
 * never gives those to a listen(0) or to an outgoing connection's local
 * end, so between our probe and the daemon's bind no other worker's
 * listen(0) and no connect() can take the port (CI saw rspamd fail with
 * "bind … Address already in use"), and a "dead" port a test connects to
 * cannot be taken by the connecting socket itself (a loopback self-connect
 * that looks like a live server). Each vitest worker gets a slice of its
 * own by VITEST_POOL_ID (unique among the workers running at once), so two
 * files running side by side never pick the same port.
 */
const SLICE_PORTS = 500;
/** Lowest port used: under it are the well-known and most registered ports of services a machine may run. */
const FLOOR = 10_000;

function portSlice(): { first: number; size: number } {
  let ephemeralLow = 32_768; // Linux's default, when the range cannot be read (not Linux)
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && low > 0 && low <= 65_535) ephemeralLow = low;
  } catch {
    // keep the default
  }
  const slices = Math.floor((ephemeralLow - FLOOR) / SLICE_PORTS);
  if (slices < 1) throw new Error(`freePort: the ephemeral port range starts at ${ephemeralLow}, leaving no ports below it above ${FLOOR} for tests`);
  const pool = Number(process.env.VITEST_POOL_ID ?? '1');
  const index = (Number.isInteger(pool) && pool > 0 ? pool - 1 : 0) % slices;
  return { first: FLOOR + index * SLICE_PORTS, size: SLICE_PORTS };
}

let slice: { first: number; size: number } | undefined;
/**
 * Where this process goes on in its slice. It starts at a random place: the
 * worker's next test file is a new process that would otherwise start where
 * the last one did, while that one's daemons may still be letting go of
 * their ports (and a second vitest run on the same machine uses the same
 * slices).
 */
let cursor = -1;

/** Binds 127.0.0.1:port and lets it go again: whether the port was free a moment ago. */
function probe(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback TCP port that was free a moment ago, for a process the test
 * starts to bind itself (or for a test to connect to where nothing listens).
 * Never the same port twice in a row within a slice's length.
 */
export async function freePort(): Promise<number> {
  slice ??= portSlice();
  if (cursor < 0) cursor = Math.floor(Math.random() * slice.size);
  for (let tried = 0; tried < slice.size; tried++) {
    const port = slice.first + (cursor++ % slice.size);
    if (await probe(port)) return port;
  }
  throw new Error(`freePort: no free port in ${slice.first}-${slice.first + slice.size - 1}`);
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
