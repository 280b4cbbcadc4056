import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RuntimeConfigInput } from '../../mail-runtime/config';
import { spawnUntilReady } from '../process';

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
  /** The node's LMTP port (its config always listens there). */
  lmtpPort: number;
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
  const p = await spawnUntilReady<{ imapPort: number; pop3Port: number; healthPort: number; lmtpPort: number }>([...(opts.nodeArgs ?? []), '--import', 'tsx', join(ROOT, 'mail-runtime/node/main.ts'), '--config', config], { what: 'node', timeoutMs: opts.timeoutMs ?? 60_000 });
  const { imapPort, pop3Port, healthPort, lmtpPort } = p.ready;
  return { child: p.child, imapPort, pop3Port, healthPort, lmtpPort, exited: p.exited };
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
