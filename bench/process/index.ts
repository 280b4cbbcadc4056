import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The repository root: members run from here (bin/mailfleet.js, tsx). */
const ROOT = resolve(__dirname, '../..');

/** How much of a child's stderr is kept for the error that reports it. */
const STDERR_TAIL = 20_000;

export interface ReadyProcess<R> {
  child: ChildProcess;
  /** The ready line (`{"ready":true,...}`), parsed. */
  ready: R;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
  /** The tail of its stderr. */
  stderr(): string;
  /** SIGKILL (kill -9: nothing flushed); resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGCONT (a frozen process must run to exit), SIGTERM, SIGKILL after the grace period; resolves when the process is gone. */
  stop(): Promise<void>;
}

export interface SpawnReadyOptions {
  /** Names the process in errors ("node", "gateway", ...). */
  what: string;
  /** Bound on the wait for the ready line; the process is killed past it. */
  timeoutMs: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  graceMs?: number;
  /** Added to the environment (after MAILFLEET_* and VITEST of the caller are dropped). */
  env?: Record<string, string>;
  /** Appends everything the process writes to this file (vitest does not show a child's output). */
  logFile?: string;
}

/**
 * Starts `node <args>` from the repository root (a member: `bin/mailfleet.js
 * run --config <file>`, or a role's main.ts through tsx) and resolves once
 * it prints its ready line, bounded by `timeoutMs`; an exit before that
 * rejects with its stderr. The config file says everything: MAILFLEET_*
 * variables of the caller would override it, and VITEST would silence the
 * logger's default. stdout stays drained after the ready line (a chatty
 * member would otherwise block on a full pipe). The one spawn-and-wait
 * helper of the tests and the benchmarks.
 */
export async function spawnUntilReady<R extends object>(args: readonly string[], o: SpawnReadyOptions): Promise<ReadyProcess<R>> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_') && k !== 'VITEST')), ...o.env };
  const child = spawn(process.execPath, [...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-STDERR_TAIL);
    if (o.logFile) appendFileSync(o.logFile, d);
  });
  const ready = await new Promise<R>((resolveReady, reject) => {
    let buf = '';
    let found = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${o.what} printed no ready line within ${o.timeoutMs} ms; stderr:\n${stderr}`));
    }, o.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      if (o.logFile) appendFileSync(o.logFile, d);
      if (found) return;
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{"ready":true')) continue;
        found = true;
        clearTimeout(timer);
        resolveReady(JSON.parse(line) as R);
        return;
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${o.what} exited with ${code} before its ready line; stderr:\n${stderr}`));
    });
  });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    ready,
    exited,
    stderr: () => stderr,
    kill: async () => {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (gone()) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), o.graceMs ?? 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
