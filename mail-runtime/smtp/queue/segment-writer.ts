import { Worker } from 'node:worker_threads';
import type { FsyncStats } from './fsync';

/**
 * Writes queue segments in a thread of their own, with plain synchronous
 * file calls: create in tmp/, write, fsync, rename into seg/, fsync seg/ —
 * the same steps and order as fsync.ts writeDurable + fsyncDir, so the same
 * durability. Why a thread: done with fs.promises each step is a trip
 * through libuv's pool and back to the event loop (about nine per segment),
 * and on a busy gateway every trip waits behind SMTP parsing, filters and
 * LMTP for its turn, so a segment took tens of milliseconds of which the
 * disk needed a few (issue 14: 85 ms mean queue step at 10 KB). Here the
 * steps run back to back and the event loop hears once, when the segment
 * is durable; the pool stays free for the journal and message reads.
 *
 * Jobs run one after the other in order; the next one is already waiting in
 * the thread when one ends (GroupCommit depth 2), so commits follow each
 * other without a round trip in between. The thread starts on first use and
 * is replaced if it dies (its jobs fail: nothing was acknowledged).
 */
const THREAD = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
function writeAll(fd, parts, where) {
  // writev may write less than asked (a signal, a nearly full disk): go on from where it stopped.
  const bufs = parts.slice();
  while (bufs.length > 0) {
    let n = fs.writevSync(fd, bufs);
    if (n === 0) throw new Error(where + ': write made no progress');
    while (bufs.length > 0 && n >= bufs[0].length) n -= bufs.shift().length;
    if (bufs.length > 0 && n > 0) bufs[0] = bufs[0].subarray(n);
  }
}
function failure(e) {
  return { message: String((e && e.message) || e), code: e && typeof e.code === 'string' ? e.code : undefined };
}
parentPort.on('message', (job) => {
  let fd;
  try {
    fd = fs.openSync(job.tmp, 'wx', 0o600);
    writeAll(fd, job.parts, job.tmp);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(job.tmp, job.target);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch {}
    try { fs.rmSync(job.tmp, { force: true }); } catch {}
    parentPort.postMessage({ id: job.id, fileSynced: false, error: failure(e) });
    return;
  }
  try {
    const d = fs.openSync(job.dir, 'r');
    try { fs.fsyncSync(d); } finally { fs.closeSync(d); }
  } catch (e) {
    parentPort.postMessage({ id: job.id, fileSynced: true, error: failure(e) });
    return;
  }
  parentPort.postMessage({ id: job.id, fileSynced: true });
});
`;

interface Reply {
  id: number;
  fileSynced: boolean;
  error?: { message: string; code?: string };
}

interface Job {
  /** The thread it was sent to: only its death fails the job. */
  worker: Worker;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface SegmentJob {
  /** Temporary name in tmp/ (tmpName), created exclusively. */
  tmp: string;
  /** Final name in seg/. */
  target: string;
  /** seg/, fsynced after the rename. */
  dir: string;
  parts: readonly Buffer[];
}

export class SegmentWriter {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;

  constructor(private readonly stats: FsyncStats) {}

  /**
   * Resolves once the segment is complete under its final name and both it
   * and the directory are fsynced. On failure the temporary file is gone;
   * the final name may exist (the rename happened, the directory fsync
   * failed), and the caller removes it.
   */
  write(job: SegmentJob): Promise<void> {
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.jobs.set(id, { worker, resolve, reject });
      worker.postMessage({ id, tmp: job.tmp, target: job.target, dir: job.dir, parts: job.parts });
    });
  }

  /** Ends the thread; jobs still in it fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) {
      await w.terminate();
      this.failAll(w, new Error('queue segment writer closed'));
    }
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(THREAD, { eval: true });
    // The gateway's servers keep the process alive; an idle writer must not.
    w.unref();
    w.on('message', (r: Reply) => this.settle(r));
    const died = (err: Error): void => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(w, err);
    };
    w.on('error', died);
    w.on('exit', (code) => died(new Error(`queue segment writer thread exited (${code})`)));
    this.worker = w;
    return w;
  }

  private settle(r: Reply): void {
    const job = this.jobs.get(r.id);
    if (!job) return;
    this.jobs.delete(r.id);
    if (r.fileSynced) this.stats.files++;
    if (!r.error) {
      this.stats.dirs++;
      job.resolve();
      return;
    }
    job.reject(Object.assign(new Error(r.error.message), r.error.code ? { code: r.error.code } : {}));
  }

  private failAll(w: Worker, err: Error): void {
    for (const [id, job] of this.jobs) {
      if (job.worker !== w) continue;
      this.jobs.delete(id);
      job.reject(err);
    }
  }
}
