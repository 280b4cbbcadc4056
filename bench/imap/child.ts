import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RuntimeConfigInput } from '../../mail-runtime/config';

const ROOT = resolve(__dirname, '../..');

export interface NodeChild {
  pid: number;
  imapPort: number;
  pop3Port: number;
  /** VmRSS of the server process in bytes (from /proc/<pid>/status). */
  rss(): Promise<number>;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop(): Promise<void>;
}

/** Resident set size of a process, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Member `limits` the caller sets (the node's config schema checks them when it starts). */
type NodeLimits = NonNullable<RuntimeConfigInput['limits']>;

export interface SpawnedNodeProcess {
  child: ChildProcess;
  imapPort: number;
  pop3Port: number;
  healthPort: number;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
}

/**
 * Runs the node role as a child process (`mail-runtime/node/main.ts`, the
 * same entry `mailfleet node` uses) on loopback, storage in `dir`. Ports are
 * 0 (the OS picks them, no race with other processes); the ready line says
 * which. Waits for it, bounded by `timeoutMs`. Shared by the benchmarks and
 * the tests that kill and restart a node.
 */
export async function spawnNodeProcess(opts: { dir: string; usersFile: string; memberId: string; timeoutMs?: number; limits?: NodeLimits; nodeArgs?: readonly string[] }): Promise<SpawnedNodeProcess> {
  const any = { host: '127.0.0.1', port: 0 };
  const config = join(opts.dir, 'node.json');
  await writeFile(
    config,
    JSON.stringify({
      role: 'node',
      memberId: opts.memberId,
      cluster: 'local',
      management: any,
      storage: { path: join(opts.dir, 'storage') },
      listen: { imap: any, pop3: any, lmtp: any },
      directory: { file: opts.usersFile },
      logLevel: 'warn',
      ...(opts.limits ? { limits: opts.limits } : {}),
    }),
  );
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', join(ROOT, 'mail-runtime/node/main.ts'), '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The config file says everything; MAILFLEET_* variables of the caller
    // would override it, and VITEST would silence the logger's default.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_') && k !== 'VITEST')),
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const ready = await new Promise<{ imapPort: number; pop3Port: number; healthPort: number }>((resolveReady, reject) => {
    let out = '';
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        clearTimeout(t);
        child.stdout?.off('data', onData);
        resolveReady(JSON.parse(line) as { imapPort: number; pop3Port: number; healthPort: number });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`node exited with ${code}: ${stderr}`));
    });
  });
  return { child, ...ready, exited };
}

/** The benchmark's view of a node process: ports, RSS, stop. */
export async function startNodeChild(dir: string, usersFile: string, limits?: NodeLimits, timeoutMs = 60_000): Promise<NodeChild> {
  // BENCH_PROFILE_DIR: the node writes a V8 CPU profile there when it stops (as in the smtp suite).
  const nodeArgs = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_PROFILE_DIR)}`] : [];
  const { child, imapPort, pop3Port, exited } = await spawnNodeProcess({ dir, usersFile, memberId: 'bench-node', timeoutMs, nodeArgs, ...(limits ? { limits } : {}) });
  const pid = child.pid as number;
  return {
    pid,
    imapPort,
    pop3Port,
    rss: () => rssOf(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
