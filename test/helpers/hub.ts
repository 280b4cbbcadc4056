import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseRuntimeConfig, type RuntimeConfigInput, type RuntimeConfigOf } from '../../mail-runtime/config';
import { runHub, type RunningHub } from '../../mail-runtime/hub';
import { spawnUntilReady } from '../../bench/process';
import { waitFor } from './wait';

// Many tests take waitFor from here, beside the hub helpers they use it with.
export { waitFor };

const ROOT = resolve(__dirname, '../..');
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const CLUSTER_TOKEN = 'cluster-token-for-tests-0123456789';

/** Writes the two token files under `<dir>/secrets/` and returns their paths. */
export async function writeTokens(dir: string): Promise<{ adminTokenFile: string; clusterTokenFile: string }> {
  await mkdir(join(dir, 'secrets'), { recursive: true });
  const adminTokenFile = join(dir, 'secrets', 'admin-token');
  const clusterTokenFile = join(dir, 'secrets', 'cluster-token');
  await writeFile(adminTokenFile, `${ADMIN_TOKEN}\n`);
  await writeFile(clusterTokenFile, `${CLUSTER_TOKEN}\n`);
  return { adminTokenFile, clusterTokenFile };
}

/** A hub RuntimeConfig on loopback (ephemeral ports unless given), storage under `<dir>/storage`. */
export async function hubConfig(dir: string, extra: Partial<RuntimeConfigInput> & { memberId?: string; httpPort?: number } = {}): Promise<RuntimeConfigOf<'hub'>> {
  const tokens = await writeTokens(dir);
  const { httpPort, ...rest } = extra;
  const cfg = parseRuntimeConfig(
    {
      role: 'hub',
      memberId: 'test-hub-0',
      cluster: 'test',
      advertise: '127.0.0.1',
      management: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'storage') },
      listen: { http: { host: '127.0.0.1', port: httpPort ?? 0 } },
      ...tokens,
      ...rest,
    } as RuntimeConfigInput,
    'test hub config',
  );
  if (cfg.role !== 'hub') throw new Error('unreachable');
  return cfg;
}

/** A hub in this process; resolves once it is active (bounded). */
export async function startTestHub(dir: string, extra: Parameters<typeof hubConfig>[1] = {}): Promise<RunningHub> {
  const cfg = await hubConfig(dir, extra);
  const hub = await runHub({ ...cfg, logLevel: (process.env.MAILFLEET_TEST_LOG as 'info' | undefined) ?? 'silent' }, { installSignalHandlers: false });
  await waitFor(() => hub.hub.isActive, 'hub active', 10_000);
  return hub;
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

/** A JSON call to the hub API. */
export async function api<T = unknown>(base: string, method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string; type?: string } = {}): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] = opts.type ?? 'text/csv';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = opts.type ?? 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export interface SpawnedProcess {
  child: ChildProcess;
  /** The ready line's fields. */
  ready: Record<string, unknown>;
  stderr(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

/**
 * `node bin/mailfleet.js run --config <file>` with `config` written to
 * `file`; resolves with its ready line (bounded). MAILFLEET_* variables of
 * the test process are not passed on.
 */
export async function spawnMember(file: string, config: Record<string, unknown>, timeoutMs = 60_000): Promise<SpawnedProcess> {
  await writeFile(file, JSON.stringify(config));
  // MAILFLEET_TEST_LOG_DIR: keep each member's log in `<dir>/<config file name>.log` (vitest does not show a child's stderr).
  const logDir = process.env.MAILFLEET_TEST_LOG_DIR;
  const p = await spawnUntilReady<Record<string, unknown>>([join(ROOT, 'bin', 'mailfleet.js'), 'run', '--config', file], {
    what: basename(file),
    timeoutMs,
    graceMs: 5000,
    ...(process.env.MAILFLEET_TEST_LOG ? { env: { MAILFLEET_LOG_LEVEL: process.env.MAILFLEET_TEST_LOG } } : {}),
    ...(logDir ? { logFile: join(logDir, `${basename(file)}.log`) } : {}),
  });
  return { child: p.child, ready: p.ready, stderr: p.stderr, exited: p.exited, stop: p.stop };
}

