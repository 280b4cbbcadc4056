import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { hashPassword } from '../../mail-runtime/auth';
import { median, medianOfRounds, row, type BenchRow, type SuiteResult } from '../report';

/**
 * Cluster figures (issue 12), not tests: hub and nodes as real processes on
 * loopback, like the cluster tests.
 *
 * - `failover`: from kill -9 of the node that owns a user (process gone),
 *   and from SIGSTOP of it (silent loss), to the first successful IMAP LOGIN
 *   of that user through the proxy (the issue's measure), and, beside it
 *   from the same fault, directly at a live node; median of 5 SIGSTOP
 *   rounds and 3 kill -9 rounds (BENCH_FAILOVER_ROUNDS sets both; each
 *   row names its n and every round). Each
 *   client tries again 20 ms after an answer, every attempt bounded by its
 *   own 2 s timeout (a real client's retry, without which a login sent to
 *   the frozen node would wait out the timeout).
 * - `directory`: 1,000,000-user bulk import (NDJSON, one transaction), the
 *   latency of a member's user lookup at that size, and the hub's memory.
 */

const BIN = resolve(__dirname, '..', '..', 'bin', 'mailfleet.js');
const ADMIN = 'bench-admin-token-0123456789abcdef';
const CLUSTER = 'bench-cluster-token-0123456789abcdef';
/** Cheap scrypt for bench users: the figures are about failover and lookups, not hashing. */
const FAST = { N: 1024, r: 8, p: 1 };
/**
 * Rounds per fault. A round costs a node restart and the cluster settling
 * (≈ 4–7 s on the shared 2-core machine) besides the failover itself. kill -9
 * takes 3: its failover is a fraction of a second and its rounds spread by
 * ~0.1 s (275 / 411 ms in two runs of issue 12); SIGSTOP keeps 5, it is the
 * goal that matters (≤ dead-after + 1 s) and its rounds spread by ~0.5 s.
 */
const ROUNDS: Record<'kill -9' | 'SIGSTOP', number> = { 'kill -9': 3, SIGSTOP: 5 };
const POLL_MS = 20;

function envRounds(fallback: number): number {
  const v = Number(process.env.BENCH_FAILOVER_ROUNDS);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

interface Proc {
  child: ChildProcess;
  ready: Record<string, unknown>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function run(dir: string, id: string, config: Record<string, unknown>): Promise<Proc> {
  const file = join(dir, `${id}.json`);
  await writeFile(file, JSON.stringify(config));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_')));
  const child = spawn(process.execPath, [BIN, 'run', '--config', file], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const ready = await new Promise<Record<string, unknown>>((res, rej) => {
    let out = '';
    let found = false;
    const t = setTimeout(() => rej(new Error(`${id}: not ready in 120 s`)), 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (found) return;
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{"ready"')) continue;
        found = true;
        clearTimeout(t);
        res(JSON.parse(line) as Record<string, unknown>);
        return;
      }
    });
    child.once('exit', (c) => rej(new Error(`${id} exited with ${c}`)));
  });
  return {
    child,
    ready,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await gone;
    },
  };
}

async function api<T>(base: string, method: string, path: string, body?: unknown, token = ADMIN, type = 'application/json', timeoutMs = 60_000): Promise<T> {
  const init: RequestInit & { duplex?: 'half' } = { method, signal: AbortSignal.timeout(timeoutMs), headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) } };
  if (body instanceof Readable) {
    init.body = Readable.toWeb(body) as ReadableStream;
    init.duplex = 'half';
  } else if (body !== undefined) init.body = JSON.stringify(body);
  let res = await fetch(`${base}${path}`, init);
  // A hub whose lease renewal runs late answers not_active for a moment; a streamed body cannot be sent twice.
  for (let i = 0; i < 50 && res.status === 503 && !(body instanceof Readable); i++) {
    await res.text();
    await new Promise((r) => setTimeout(r, 100));
    res = await fetch(`${base}${path}`, init);
  }
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`timed out: ${what}`);
}

/** One IMAP LOGIN; true on a tagged OK. Bounded by its own timeout. */
function login(port: number, user: string, password: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    let sent = false;
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      res(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.on('error', () => done(false));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (!sent && buf.includes('\r\n')) {
        sent = true;
        s.write(`L LOGIN "${user}" "${password}"\r\n`);
      }
      const m = /\r\nL (OK|NO|BAD)|^L (OK|NO|BAD)/m.exec(buf);
      if (m) done((m[1] ?? m[2]) === 'OK');
    });
  });
}

async function startHub(dir: string, url: string, storage: string, timing: Record<string, number> = {}): Promise<Proc> {
  return run(dir, 'hub-0', {
    role: 'hub',
    memberId: 'hub-0',
    cluster: 'bench',
    advertise: '127.0.0.1',
    management: { host: '127.0.0.1', port: 0 },
    storage: { path: storage },
    listen: { http: { host: '127.0.0.1', port: Number(new URL(url).port) } },
    adminTokenFile: join(dir, 'admin-token'),
    clusterTokenFile: join(dir, 'cluster-token'),
    logLevel: 'warn',
    ...timing,
  });
}

export async function runFailoverBench(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<SuiteResult> {
  const rows: BenchRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'mf-bench-failover-'));
  const storage = join(dir, 'storage');
  await writeFile(join(dir, 'admin-token'), ADMIN);
  await writeFile(join(dir, 'cluster-token'), CLUSTER);
  const url = `http://127.0.0.1:${await freePort()}`;
  const procs = new Map<string, Proc>();
  try {
    procs.set('hub-0', await startHub(dir, url, storage));
    await until('hub active', async () => (await api<{ active: boolean }>(url, 'GET', '/v1/hub')).active);
    await api(url, 'POST', '/v1/domains', { name: 'bench.test' });
    const users: { address: string; password: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const u = { address: `u${i}@bench.test`, password: `password-${i}` };
      await api(url, 'POST', '/v1/users', { address: u.address, passwordHash: await hashPassword(u.password, FAST) });
      users.push(u);
    }
    const lo = { host: '127.0.0.1', port: 0 };
    const startNode = async (id: string) => {
      procs.set(
        id,
        await run(dir, id, { role: 'node', memberId: id, cluster: 'bench', advertise: '127.0.0.1', management: lo, storage: { path: storage }, listen: { imap: lo, pop3: lo, lmtp: lo }, hubUrls: [url], clusterTokenFile: join(dir, 'cluster-token'), logLevel: 'warn' }),
      );
    };
    const nodeIds = ['node-a', 'node-b'];
    await Promise.all(nodeIds.map(startNode));
    const proxy = await run(dir, 'proxy-0', { role: 'proxy', memberId: 'proxy-0', cluster: 'bench', advertise: '127.0.0.1', management: lo, storage: { path: storage }, listen: { imap: lo, pop3: lo, submission: lo }, hubUrls: [url], clusterTokenFile: join(dir, 'cluster-token'), logLevel: 'warn' });
    procs.set('proxy-0', proxy);
    const proxyPort = Number(proxy.ready.imapPort);
    const settled = async () =>
      until('both nodes active, no move pending', async () => {
        const p = await api<{ nodes: { id: string; state: string }[]; pending: unknown }>(url, 'GET', '/v1/placement');
        return nodeIds.every((id) => p.nodes.some((n) => n.id === id && n.state === 'active')) && p.pending === null;
      });
    await settled();
    log('failover: hub + 2 nodes + proxy on loopback (heartbeat 1 s, dead-after 3 s); time from the fault to the first successful LOGIN of a user of the lost node');
    for (const mode of ['kill -9', 'SIGSTOP'] as const) {
      const direct: number[] = [];
      const n = envRounds(ROUNDS[mode]);
      const { runs: times, median: medianMs } = await medianOfRounds(n, async (r) => {
        await settled();
        const u = users[r % users.length]!;
        const owner = (await api<{ node: string }>(url, 'GET', `/v1/placement/owner/${encodeURIComponent(u.address)}`)).node;
        const victim = procs.get(owner)!;
        const others = nodeIds.filter((n) => n !== owner);
        if (!(await login(Number(victim.ready.imapPort), u.address, u.password, 10_000))) throw new Error(`${u.address} cannot log in at its owner ${owner}`);
        await until(`${u.address} logs in through the proxy`, () => login(proxyPort, u.address, u.password));
        const t0 = performance.now();
        victim.child.kill(mode === 'kill -9' ? 'SIGKILL' : 'SIGSTOP');
        const [ms, directMs] = await Promise.all([
          until(`${u.address} served again through the proxy`, () => login(proxyPort, u.address, u.password)).then(() => performance.now() - t0),
          until(`${u.address} served again at a live node`, async () => {
            for (const o of others) if (await login(Number(procs.get(o)!.ready.imapPort), u.address, u.password)) return true;
            return false;
          }).then(() => performance.now() - t0),
        ]);
        direct.push(directMs);
        if (mode === 'SIGSTOP') {
          victim.child.kill('SIGKILL');
          victim.child.kill('SIGCONT');
        }
        if (victim.child.exitCode === null && victim.child.signalCode === null) await new Promise((r2) => victim.child.once('exit', r2));
        await startNode(owner);
        return ms;
      }, (ms) => ms);
      const goalMs = mode === 'kill -9' ? 1000 : 4000;
      const goal = mode === 'kill -9' ? 'goal ≤ 1 s' : 'goal ≤ dead-after + 1 s = 4 s';
      const list = (xs: number[]): string => xs.map((t) => Math.round(t)).join(', ');
      log(`  ${mode.padEnd(8)} through the proxy: median ${Math.round(medianMs)} ms  (${list(times)} ms; ${goal}; SmarterMail's default 60 s)`);
      log(`  ${mode.padEnd(8)} directly at a live node: median ${Math.round(median(direct))} ms  (${list(direct)} ms)`);
      rows.push(
        row({
          suite: 'failover',
          metric: `${mode} of the owner → first LOGIN through the proxy, median of ${n}`,
          unit: 'ms',
          mailfleet: medianMs,
          better: 'lower',
          note: `rounds ${list(times)} ms (spread ${Math.round(Math.max(...times) - Math.min(...times))} ms); ${goal} (${medianMs <= goalMs ? 'met' : 'MISSED'})`,
        }),
        row({ suite: 'failover', metric: `${mode} of the owner → first LOGIN directly at a live node, median of ${n}`, unit: 'ms', mailfleet: median(direct), better: 'lower', note: `rounds ${list(direct)} ms` }),
      );
    }
  } finally {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  }
  return {
    rows,
    notes: ['Hub, 2 nodes and a proxy as real processes on loopback, heartbeat 1 s, dead-after 3 s (defaults). Each round restarts the lost node and waits until both nodes are active before the next fault; the clients retry 20 ms after an answer, each attempt bounded by 2 s.'],
  };
}

/** The directory suite's bound: the import (the long part) gives up after this; the lookups are 1,000 bounded calls. */
const DIRECTORY_IMPORT_BOUND_MS = 15 * 60_000;

export async function runDirectoryBench(count = 1_000_000): Promise<SuiteResult> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-bench-directory-'));
  const storage = join(dir, 'storage');
  await writeFile(join(dir, 'admin-token'), ADMIN);
  await writeFile(join(dir, 'cluster-token'), CLUSTER);
  const url = `http://127.0.0.1:${await freePort()}`;
  let hub: Proc | undefined;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const users = count.toLocaleString('en');
  try {
    hub = await startHub(dir, url, storage);
    await until('hub active', async () => (await api<{ active: boolean }>(url, 'GET', '/v1/hub')).active);
    await api(url, 'POST', '/v1/domains', { name: 'big.test' });
    const hash = await hashPassword('bench-password', FAST);
    // One hash for every user: hashing a million passwords is not what is measured.
    const lines = (function* () {
      const batch = 10_000;
      for (let i = 0; i < count; i += batch) {
        let chunk = '';
        for (let j = i; j < Math.min(count, i + batch); j++) chunk += `${JSON.stringify({ address: `user${j}@big.test`, passwordHash: hash })}\n`;
        yield chunk;
      }
    })();
    const t0 = performance.now();
    const result = await api<Record<string, unknown>>(url, 'POST', '/v1/users/import', Readable.from(lines), ADMIN, 'application/x-ndjson', DIRECTORY_IMPORT_BOUND_MS);
    const importMs = performance.now() - t0;
    process.stderr.write(`directory: ${users} users\n  bulk import (NDJSON)  ${(importMs / 1000).toFixed(1)} s  (${Math.round(count / (importMs / 1000)).toLocaleString('en')} users/s; ${JSON.stringify(result).slice(0, 120)})\n`);
    rows.push(row({ suite: 'directory', metric: `bulk import of ${users} users (NDJSON, admin API)`, unit: 's', mailfleet: importMs / 1000, better: 'lower', note: `${Math.round(count / (importMs / 1000)).toLocaleString('en')} users/s` }));
    rows.push(row({ suite: 'directory', metric: `bulk import rate (${users} users)`, unit: 'users/s', mailfleet: count / (importMs / 1000), better: 'higher' }));
    const lookups: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const a = `user${Math.floor(Math.random() * count)}@big.test`;
      const s = performance.now();
      await api(url, 'GET', `/v1/cluster/users/${encodeURIComponent(a)}`, undefined, CLUSTER);
      lookups.push(performance.now() - s);
    }
    lookups.sort((a, b) => a - b);
    process.stderr.write(`  member user lookup over HTTP (1,000 random addresses)  median ${lookups[500]!.toFixed(2)} ms  p99 ${lookups[990]!.toFixed(2)} ms\n`);
    rows.push(row({ suite: 'directory', metric: `login lookup at ${users} users, p50 (GET /v1/cluster/users/…, 1,000 random)`, unit: 'ms', mailfleet: lookups[500]!, better: 'lower' }));
    rows.push(row({ suite: 'directory', metric: `login lookup at ${users} users, p99`, unit: 'ms', mailfleet: lookups[990]!, better: 'lower' }));
    const metrics = await (await fetch(`http://127.0.0.1:${String(hub.ready.healthPort)}/metrics`)).text();
    const rss = /^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)/m.exec(metrics);
    process.stderr.write(`  hub resident memory after import and lookups  ${rss ? `${Math.round(Number(rss[1]) / 1048576)} MiB` : 'not reported'}\n`);
    if (rss) rows.push(row({ suite: 'directory', metric: `hub resident memory after import and lookups (${users} users)`, unit: 'MiB', mailfleet: Number(rss[1]) / 1048576, better: 'lower' }));
  } catch (err) {
    notes.push(`directory: ${(err as Error).message}`);
  } finally {
    await hub?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, notes };
}
