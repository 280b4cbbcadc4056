import { FAILURE_JS, JobThread, WRITE_ALL_JS, threadError, type ThreadFailure } from '../common/job-thread';
import type { StoreContext } from './fsutil';

/**
 * Message-file fsyncs running at once in the process. Concurrent fsyncs on
 * one filesystem share its journal commits (ext4 and XFS let waiters join
 * the running transaction; an NFS client pipelines its COMMITs), so N files
 * synced together cost about one fsync latency instead of N. The cap keeps
 * them from holding every thread of libuv's pool (4 by default, shared by
 * the whole process, this thread included), which message reads and
 * password checks need too.
 */
const PARALLEL_FSYNCS = 4;

/** Files a job keeps open between writing and fsyncing them (bounds descriptors for a 1000-message MULTIAPPEND). */
const FILES_PER_ROUND = 64;

/**
 * The thread: for each job, per round of files, create (`wx`), write and
 * set the mtime of every file with plain synchronous calls (page cache),
 * then fsync them all at once through libuv's pool (capped, above) and
 * close them. On any failure every file the job created is removed.
 *
 * Why a thread (issue 14): done with fs.promises from the node's event loop
 * these are five trips through libuv's pool and back per message (open,
 * write, utimes, fsync, close), and under an SMTP burst every return waits
 * behind LMTP, IMAP and the group commits for its turn — the file write
 * took 15–30 ms of a delivery's ~50 ms at the node. This thread's loop is
 * idle, so the steps follow each other at once and the event loop hears
 * once, when the files are durable. The same approach as the gateway's
 * queue (smtp/queue/segment-writer.ts).
 */
const THREAD = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
let active = 0;
const waiting = [];
async function gatedFsync(fd) {
  if (active >= ${PARALLEL_FSYNCS}) await new Promise((resolve) => waiting.push(resolve));
  else active++;
  try {
    await new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
  } finally {
    // Hand the slot straight to the next waiter (active stays counted for it).
    const next = waiting.shift();
    if (next) next();
    else active--;
  }
}
${WRITE_ALL_JS}${FAILURE_JS}async function run(job) {
  const created = [];
  let fsyncs = 0;
  let rounds = 0;
  try {
    for (let i = 0; i < job.files.length; i += ${FILES_PER_ROUND}) {
      const fds = [];
      try {
        for (const f of job.files.slice(i, i + ${FILES_PER_ROUND})) {
          const fd = fs.openSync(f.path, 'wx', 0o600);
          fds.push(fd);
          created.push(f.path);
          writeAll(fd, [f.data], f.path);
          // Dovecot takes a Maildir message's INTERNALDATE from its mtime.
          fs.futimesSync(fd, f.mtimeMs / 1000, f.mtimeMs / 1000);
        }
        // allSettled: every fsync of the round has finished before any file is closed or removed.
        const results = await Promise.allSettled(fds.map((fd) => gatedFsync(fd)));
        fsyncs += results.filter((r) => r.status === 'fulfilled').length;
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        rounds++;
      } finally {
        for (const fd of fds) try { fs.closeSync(fd); } catch {}
      }
    }
    return { id: job.id, fsyncs, rounds };
  } catch (e) {
    // Only what this job created (a name that already existed was never ours).
    for (const p of created) try { fs.rmSync(p, { force: true }); } catch {}
    return { id: job.id, fsyncs, rounds, error: failure(e) };
  }
}
parentPort.on('message', (job) => {
  run(job).then((r) => parentPort.postMessage(r));
});
`;

/** A new file for writeFilesDurable: its path (created exclusively), bytes and mtime. */
export interface NewFile {
  path: string;
  data: Buffer;
  mtime: Date;
}

interface Reply {
  id: number;
  fsyncs: number;
  rounds: number;
  error?: ThreadFailure;
}

interface Pending {
  ctx: StoreContext;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The process's message-file writer thread, started on first use and replaced if it dies (its jobs fail: nothing was acknowledged). */
class MessageFileWriter {
  private thread: JobThread<Reply, Pending> | undefined;

  write(ctx: StoreContext, files: readonly NewFile[]): Promise<void> {
    if (files.length === 0) return Promise.resolve();
    if (!this.thread || this.thread.dead) {
      this.thread = new JobThread<Reply, Pending>(THREAD, 'message file writer', {
        reply: (r, p) => settle(r, p),
        died: (pending, err) => {
          for (const p of pending) p.reject(err);
        },
      });
    }
    const thread = this.thread;
    // A copy per file, handed over (not cloned again): a Buffer may view a much larger ArrayBuffer, which a clone would copy whole.
    const copies = files.map((f) => ({ path: f.path, data: new Uint8Array(f.data), mtimeMs: f.mtime.getTime() }));
    return new Promise<void>((resolve, reject) => {
      thread.send(
        { files: copies },
        { ctx, resolve, reject },
        copies.map((c) => c.data.buffer),
      );
    });
  }
}

function settle(r: Reply, p: Pending): void {
  p.ctx.stats.fileFsyncs += r.fsyncs;
  p.ctx.stats.fileSyncRounds += r.rounds;
  // As the failed syscall's own error: errors.ts tells I/O errors (code + syscall) from bugs.
  if (r.error) p.reject(threadError(r.error));
  else p.resolve();
}

const writer = new MessageFileWriter();

/**
 * Creates every file (`wx`), writes it and sets its mtime, then fsyncs them
 * all in one round (DESIGN.md group commit: the writes are all in the page
 * cache before the first fsync, so the filesystem can flush them in shared
 * journal commits), in the writer thread above. Resolves once every file's
 * data and inode are durable; their names are not (the caller renames them
 * and fsyncs the directory). On failure every file it created is removed
 * and the first error is thrown: nothing half-written stays behind.
 */
export function writeFilesDurable(ctx: StoreContext, files: readonly NewFile[]): Promise<void> {
  return writer.write(ctx, files);
}
