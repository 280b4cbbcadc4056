/**
 * `npm run bench -- floor`: the physical floor the servers stand on,
 * measured in the same run: how many fsyncs per second the storage folder
 * (os.tmpdir(), where every suite keeps its mail) takes, single-threaded
 * and from N threads at once, and what loopback TCP carries. A durable
 * acknowledgement costs at least one fsync; with group commit, one fsync
 * covers every message written since the last, so messages/s can pass the
 * fsync rate, and the single-thread rate is the ceiling for a server that
 * fsyncs each message on its own.
 *
 * Every loop is bounded in count and time (BENCH_FLOOR_MS per measurement,
 * default 4000).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { row, type BenchRow, type SuiteResult } from '../report';

const SUITE = 'floor';

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

/**
 * The fsync loop, as plain JavaScript so a worker thread can run it without
 * a TypeScript loader: write 4 KiB at offset 0 and fsync, until `count` or
 * `ms` is reached; or, with `create`, what a Maildir delivery does per
 * message: write a new file, fsync it, rename it into place, fsync the
 * folder.
 */
const LOOP = `
const { openSync, writeSync, fsyncSync, closeSync, renameSync } = require('node:fs');
const { join } = require('node:path');
function loop({ dir, name, count, ms, create }) {
  const buf = Buffer.alloc(4096, 120);
  const t0 = performance.now();
  let n = 0;
  if (create) {
    const d = openSync(dir, 'r');
    for (; n < count && performance.now() - t0 < ms; n++) {
      const tmp = join(dir, name + '.' + n + '.tmp');
      const fd = openSync(tmp, 'w');
      writeSync(fd, buf);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, join(dir, name + '.' + n));
      fsyncSync(d);
    }
    closeSync(d);
  } else {
    const fd = openSync(join(dir, name), 'w');
    for (; n < count && performance.now() - t0 < ms; n++) {
      writeSync(fd, buf, 0, buf.length, 0);
      fsyncSync(fd);
    }
    closeSync(fd);
  }
  return { n, ms: performance.now() - t0 };
}
`;

interface LoopResult {
  n: number;
  ms: number;
}

function inWorker(args: { dir: string; name: string; count: number; ms: number; create: boolean }): Promise<LoopResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(`${LOOP}\nconst { parentPort, workerData } = require('node:worker_threads');\nparentPort.postMessage(loop(workerData));`, { eval: true, workerData: args });
    w.once('message', (m: LoopResult) => resolve(m));
    w.once('error', reject);
  });
}

/** fsyncs per second from `threads` threads at once, each on its own file. */
async function fsyncRate(dir: string, threads: number, ms: number, create: boolean): Promise<number> {
  const results = await Promise.all(Array.from({ length: threads }, (_, i) => inWorker({ dir, name: `f${threads}-${i}${create ? 'c' : ''}`, count: 1_000_000, ms, create })));
  const total = results.reduce((n, r) => n + r.n, 0);
  const span = Math.max(...results.map((r) => r.ms));
  return (total * 1000) / span;
}

/** `dd oflag=dsync`: an independent check of the synchronous 4 KiB write rate (coreutils). */
function ddRate(dir: string, count: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('dd', ['if=/dev/zero', `of=${join(dir, 'dd.out')}`, 'bs=4k', `count=${count}`, 'oflag=dsync'], { timeout: timeoutMs }, (err, _out, stderr) => {
      const m = /copied, ([\d.]+) s/.exec(String(stderr));
      resolve(err || !m ? null : count / Number(m[1]));
    });
  });
}

/** Loopback TCP: bulk MiB/s one way, and 1-byte round trips per second. */
async function loopback(ms: number): Promise<{ mibPerS: number; rttUs: number }> {
  const server = createServer((s) => {
    s.on('data', (d) => {
      if (d.length <= 8) s.write(d); // ping-pong echoes; bulk data is read and dropped
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const c = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.setNoDelay(true);
    const chunk = Buffer.alloc(256 * 1024, 97);
    let sent = 0;
    const t0 = performance.now();
    const maxBytes = 8 * 1024 ** 3;
    while (performance.now() - t0 < ms && sent < maxBytes) {
      if (!c.write(chunk)) await new Promise((r) => c.once('drain', r));
      sent += chunk.length;
    }
    const bulkMs = performance.now() - t0;
    c.destroy();

    const p = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => p.once('connect', () => r()));
    p.setNoDelay(true);
    let trips = 0;
    const t1 = performance.now();
    while (performance.now() - t1 < ms / 2 && trips < 200_000) {
      await new Promise<void>((r) => {
        p.once('data', () => r());
        p.write('x');
      });
      trips++;
    }
    const rttUs = ((performance.now() - t1) * 1000) / trips;
    p.destroy();
    return { mibPerS: sent / 1024 ** 2 / (bulkMs / 1000), rttUs };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

export async function runFloorBench(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<SuiteResult> {
  const ms = envInt('BENCH_FLOOR_MS', 4000);
  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-floor-'));
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    log('floor: fsync rate of the storage folder ...');
    const one = await fsyncRate(dir, 1, ms, false);
    rows.push(row({ suite: SUITE, metric: 'fsync of a 4 KiB write, 1 thread', unit: 'fsync/s', mailfleet: one, note: `storage folder ${tmpdir()}` }));
    for (const n of [4, 16]) {
      rows.push(row({ suite: SUITE, metric: `fsync of a 4 KiB write, ${n} threads (own file each)`, unit: 'fsync/s', mailfleet: await fsyncRate(dir, n, ms, false) }));
    }
    const create = await fsyncRate(dir, 1, ms, true);
    rows.push(row({ suite: SUITE, metric: 'durable file create (write, fsync, rename, fsync dir), 1 thread', unit: 'files/s', mailfleet: create, note: 'what a Maildir delivery costs per message without group commit' }));
    const create16 = await fsyncRate(dir, 16, ms, true);
    rows.push(row({ suite: SUITE, metric: 'durable file create, 16 threads', unit: 'files/s', mailfleet: create16 }));
    // Sized from the fsync rate just measured so dd takes about half the time bound.
    const ddCount = Math.min(20_000, Math.max(100, Math.round((one * ms) / 2000)));
    const dd = await ddRate(dir, ddCount, ms * 3);
    if (dd !== null) rows.push(row({ suite: SUITE, metric: 'dd bs=4k oflag=dsync, 1 writer', unit: 'writes/s', mailfleet: dd, note: `coreutils dd, ${ddCount} synchronous writes: a cross-check of the 1-thread fsync rate` }));
    log('floor: loopback TCP ...');
    const lo = await loopback(ms);
    rows.push(
      row({ suite: SUITE, metric: 'loopback TCP, one stream', unit: 'MiB/s', mailfleet: lo.mibPerS, note: 'node sockets, 256 KiB writes' }),
      row({ suite: SUITE, metric: 'loopback TCP round trip (1 byte, node)', unit: 'µs', mailfleet: lo.rttUs }),
    );
    notes.push(
      'Concurrent fsyncs on one file system share journal commits (the kernel batches them), so N threads reach far more than N × the single-thread rate here: the floor for a server is its number of concurrent durable writers, not the single-thread figure alone.',
      `One fsync per message caps a single writer at ~${Math.round(one)} msg/s and 16 writers at ~${Math.round(rows[2].mailfleet ?? 0)} msg/s on this storage; group commit (one fsync for every message written since the last) lifts the cap to (messages per fsync) × that rate.`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, notes };
}
