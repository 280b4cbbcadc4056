import { FAILURE_JS, JobThread, WRITE_ALL_JS, threadError, type ThreadFailure } from '../../common/job-thread';
import type { FsyncStats } from './fsync';

/**
 * Writes queue segments (and journal appends, `append`) in a thread of
 * their own. A segment: create in tmp/, write,
 * fsync, rename into seg/, fsync seg/ — the same steps and order as
 * fsync.ts writeDurable + fsyncDir, so the same durability. Why a thread:
 * done with fs.promises from the event loop each step is a trip through
 * libuv's pool and back (about nine per segment), and on a busy gateway
 * every return waits behind SMTP parsing, filters and LMTP for its turn, so
 * a segment took tens of milliseconds of which the disk needed a few
 * (issue 14: 85 ms mean queue step at 10 KB). This thread's loop is idle,
 * so the steps follow each other at once and the gateway's loop hears
 * once, when the segment is durable, with the ownership markers read
 * right after (the check that must follow the fsyncs, DESIGN.md).
 *
 * Jobs overlap (GroupCommit depth): the writes are plain synchronous calls
 * (page cache), the fsyncs go to libuv's pool, so the next segment's fsync
 * runs while the previous one's is under way and the filesystem joins them
 * in one journal commit (pipelining, not stop-and-wait), and segments whose
 * renames are done before a directory fsync starts share it. The thread
 * starts on first use and is replaced if it dies (its jobs fail: nothing
 * was acknowledged).
 */
const THREAD = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
${WRITE_ALL_JS}function fsync(fd) {
  return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
}
// The directory fsync, shared: a job joins the next one to start after its
// rename, never one already under way (that one may have begun before it).
const dirs = new Map();
let dirFsyncs = 0;
let dirFsyncsReported = 0;
function syncDir(dir) {
  let d = dirs.get(dir);
  if (!d) dirs.set(dir, (d = { current: undefined, queued: undefined }));
  const begin = () => {
    const p = (async () => {
      const fd = fs.openSync(dir, 'r');
      try { await fsync(fd); } finally { fs.closeSync(fd); }
      dirFsyncs++;
    })().finally(() => { if (d.current === p) d.current = undefined; });
    d.current = p;
    return p;
  };
  if (d.queued) return d.queued;
  if (!d.current) return begin();
  const after = () => { d.queued = undefined; return begin(); };
  d.queued = d.current.then(after, after);
  return d.queued;
}
${FAILURE_JS}function highestEpoch(dir) {
  // The ownership markers (owner.ts check(): the same rule, one readdir).
  let names = [];
  try { names = fs.readdirSync(dir); } catch (e) { if (!e || e.code !== 'ENOENT') throw e; }
  let highest;
  for (const n of names) if (/^\\d+$/.test(n)) highest = Math.max(highest === undefined ? -1 : highest, Number(n));
  return highest;
}
// A journal append: the gateway's own descriptor (open for appending), written and fsynced here.
async function append(job) {
  try {
    writeAll(job.fd, job.parts, 'journal');
  } catch (e) {
    return { id: job.id, fileSynced: false, error: failure(e) };
  }
  try {
    await fsync(job.fd);
  } catch (e) {
    return { id: job.id, fileSynced: false, error: failure(e) };
  }
  try {
    return { id: job.id, fileSynced: true, highestEpoch: highestEpoch(job.epochs) };
  } catch (e) {
    return { id: job.id, fileSynced: true, error: failure(e) };
  }
}
async function run(job) {
  if (job.fd !== undefined) return append(job);
  let fd;
  try {
    fd = fs.openSync(job.tmp, 'wx', 0o600);
    writeAll(fd, job.parts, job.tmp);
    await fsync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(job.tmp, job.target);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch {}
    try { fs.rmSync(job.tmp, { force: true }); } catch {}
    return { id: job.id, fileSynced: false, error: failure(e) };
  }
  try {
    await syncDir(job.dir);
    // Read after the fsyncs.
    return { id: job.id, fileSynced: true, highestEpoch: highestEpoch(job.epochs) };
  } catch (e) {
    return { id: job.id, fileSynced: true, error: failure(e) };
  }
}
parentPort.on('message', (job) => {
  run(job).then((r) => {
    r.dirFsyncs = dirFsyncs - dirFsyncsReported;
    dirFsyncsReported = dirFsyncs;
    parentPort.postMessage(r);
  });
});
`;

interface Reply {
  id: number;
  fileSynced: boolean;
  /** Directory fsyncs the thread finished since its previous reply (shared ones count once). */
  dirFsyncs?: number;
  /** The highest ownership marker in epochs/, read after this job's fsyncs (undefined: none). */
  highestEpoch?: number;
  error?: ThreadFailure;
}

interface Job {
  resolve: (highestEpoch: number | undefined) => void;
  reject: (err: Error) => void;
}

export interface SegmentJob {
  /** Temporary name in tmp/ (tmpName), created exclusively. */
  tmp: string;
  /** Final name in seg/. */
  target: string;
  /** seg/, fsynced after the rename. */
  dir: string;
  /** epochs/, read after the fsyncs (the ownership check, owner.ts). */
  epochs: string;
  parts: readonly Buffer[];
}

/**
 * The job's bytes in one ArrayBuffer of their own, to transfer to the
 * thread. postMessage clones a Buffer by copying its whole backing
 * ArrayBuffer, and each small Buffer (the magic, an entry line) is a view
 * of Node's shared 8 KiB pool: a segment of n messages cost 2n + 1 clones,
 * half of them 8 KiB each, serialised on the gateway's event loop and again
 * in the thread (issue 14: postMessage was ~4 % of the gateway's main
 * thread while accepting 10 KB messages). One memcpy into a buffer that is
 * then handed over (detached here, nothing shared) costs a fraction of that.
 */
function contiguous(parts: readonly Uint8Array[]): ArrayBuffer {
  const out = new ArrayBuffer(parts.reduce((n, p) => n + p.length, 0));
  const view = new Uint8Array(out);
  let at = 0;
  for (const p of parts) {
    view.set(p, at);
    at += p.length;
  }
  return out;
}

export class SegmentWriter {
  private worker: JobThread<Reply, Job> | undefined;

  constructor(private readonly stats: FsyncStats) {}

  /**
   * Resolves once the segment is complete under its final name and both it
   * and the directory are fsynced, with the highest ownership marker read
   * after that (for FolderOwner.observed). On failure the temporary file is gone;
   * the final name may exist (the rename happened, the directory fsync
   * failed), and the caller removes it.
   */
  write(job: SegmentJob): Promise<number | undefined> {
    const data = contiguous(job.parts);
    return this.send({ tmp: job.tmp, target: job.target, dir: job.dir, epochs: job.epochs, parts: [new Uint8Array(data)] }, data);
  }

  /** Sends a job with its bytes handed over (transferred, not cloned: see contiguous()). */
  private send(message: Record<string, unknown>, data: ArrayBuffer): Promise<number | undefined> {
    const worker = this.thread();
    return new Promise<number | undefined>((resolve, reject) => worker.send(message, { resolve, reject }, [data]));
  }

  /**
   * Appends `data` to the journal through its descriptor (opened for
   * appending by the caller, which keeps it open meanwhile and sends one
   * append at a time), fsyncs it and reads the ownership markers, like a
   * segment: one event-loop turn instead of three.
   */
  append(fd: number, epochs: string, data: Buffer): Promise<number | undefined> {
    const copy = contiguous([data]);
    return this.send({ fd, epochs, parts: [new Uint8Array(copy)] }, copy);
  }

  /** Ends the thread; jobs still in it fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate(new Error('queue segment writer closed'));
  }

  private thread(): JobThread<Reply, Job> {
    if (this.worker && !this.worker.dead) return this.worker;
    this.worker = new JobThread<Reply, Job>(THREAD, 'queue segment writer', {
      reply: (r, job) => this.settle(r, job),
      // Nothing of a failed job was acknowledged: the caller answers 451 and the sender retries.
      died: (jobs, err) => {
        for (const job of jobs) job.reject(err);
      },
    });
    return this.worker;
  }

  private settle(r: Reply, job: Job): void {
    if (r.fileSynced) this.stats.files++;
    this.stats.dirs += r.dirFsyncs ?? 0;
    if (!r.error) {
      job.resolve(r.highestEpoch);
      return;
    }
    job.reject(threadError(r.error));
  }
}
