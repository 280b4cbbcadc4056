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
 * default 2000: each loop then still makes hundreds to thousands of fsyncs,
 * and the suite takes ~15 s instead of ~35 s; the run-to-run swing of this
 * shared machine, 161–673 fsync/s, is far larger than what a longer loop
 * would smooth).
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
  const ms = envInt('BENCH_FLOOR_MS', 2000);
  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-floor-'));
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    log('floor: fsync rate of the storage folder ...');
    const one = await fsyncRate(dir, 1, ms, false);
    rows.push(row({ suite: SUITE, metric: 'fsync after overwriting 4 KiB, 1 thread', unit: 'fsync/s', mailfleet: one, note: `storage folder ${tmpdir()}; data only, the file size does not change` }));
    for (const n of [4, 16]) {
      rows.push(row({ suite: SUITE, metric: `fsync after overwriting 4 KiB, ${n} threads (own file each)`, unit: 'fsync/s', mailfleet: await fsyncRate(dir, n, ms, false) }));
    }
    const create = await fsyncRate(dir, 1, ms, true);
    rows.push(row({ suite: SUITE, metric: 'durable file create (write, fsync, rename, fsync dir), 1 thread', unit: 'files/s', mailfleet: create, note: 'what a Maildir delivery costs per message without group commit' }));
    const create16 = await fsyncRate(dir, 16, ms, true);
    rows.push(row({ suite: SUITE, metric: 'durable file create, 16 threads', unit: 'files/s', mailfleet: create16 }));
    // A fixed count: the overwrite loop above can run far faster than a
    // synchronous append (which also updates the size), so it is no guide.
    // 500 appends: 1–3 s at this machine's 160–670 synchronous writes/s.
    const ddCount = 500;
    const dd = await ddRate(dir, ddCount, Math.max(30_000, ms * 5));
    rows.push(row({ suite: SUITE, metric: 'dd bs=4k oflag=dsync, 1 writer (appending)', unit: 'writes/s', mailfleet: dd, note: dd === null ? 'dd failed or took over the time bound' : `coreutils dd, ${ddCount} synchronous 4 KiB appends` }));
    log('floor: loopback TCP ...');
    const lo = await loopback(ms);
    rows.push(
      row({ suite: SUITE, metric: 'loopback TCP, one stream', unit: 'MiB/s', mailfleet: lo.mibPerS, note: 'node sockets, 256 KiB writes' }),
      row({ suite: SUITE, metric: 'loopback TCP round trip (1 byte, node)', unit: 'µs', mailfleet: lo.rttUs }),
    );
    notes.push(
      'Concurrent fsyncs on one file system share journal commits (the kernel batches them), so N threads can reach far more than N × the single-thread rate: the floor for a server depends on how many durable writes it keeps in flight.',
      `A message stored durably in a file of its own (create, write, fsync, rename, fsync the folder, as a Maildir delivery does) costs a "durable file create": ~${Math.round(create)}/s from one writer, ~${Math.round(create16)}/s from 16 at once on this storage. Group commit (one fsync covering every message written since the last) lifts a server above its writers' fsync rate.`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, notes };
}
