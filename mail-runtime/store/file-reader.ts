import * as fs from 'node:fs';
import { FAILURE_JS, JobThread, threadError, type ThreadFailure } from '../common/job-thread';

/**
 * Message files read in threads of their own (issue 14: IMAP FETCH
 * throughput). Done with fs.promises from the event loop every message of
 * a FETCH costs three trips through libuv's pool and back (open, read,
 * close), and each return waits behind whatever else the loop is doing
 * (rendering, TLS, other sessions). Here two threads read whole files with
 * plain synchronous calls, many files per request: the loop hears once per
 * batch, and the small files of a batch come back packed in one buffer
 * (one transfer instead of one per message).
 *
 * The size of every file is known from the index, so a read is the same as
 * readKnownSize below (open, read the expected size plus one byte, close;
 * on to the end of the file only when it is not exactly that size). Until
 * the threads are up, after one dies (its pending files are read again on
 * the fallback, so no read is lost or left hanging) and after close(),
 * files are read with readKnownSize from the loop, as before. A failed file
 * rejects with an error carrying the same message, code, errno, syscall and
 * path as the fs.promises call would (callers test `code === 'ENOENT'`: a
 * file expunged or renamed concurrently).
 */

/** Threads per process: two keep the disk busy while the loop renders; more would compete with the loop for 2-core machines' CPUs. */
const THREADS = 2;
/** Files up to this size come back packed in one buffer per request; larger ones each in their own (transferred, not copied). */
const SMALL_FILE_BYTES = 256 * 1024;
/** Files per request to a thread (bounds one reply's size and how long a thread is busy with one caller). */
const MAX_FILES_PER_REQUEST = 64;
/** Threads started again after deaths before the reader stays on the fallback for good (a thread that keeps dying is a bug, not bad luck). */
const MAX_RESTARTS = 4;

/** The thread (plain JavaScript, see common/job-thread.ts). */
const THREAD = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const SMALL = ${SMALL_FILE_BYTES};
${FAILURE_JS}// readKnownSize's steps into buf at off (room for size + 1): returns the bytes read.
// Stops at exactly the expected size (Maildir files never change once written),
// else at the end of the file or when the room is full (a file longer than recorded).
function readSized(fd, buf, off, size) {
  let n = 0;
  for (;;) {
    if (n === size + 1) return n;
    const r = fs.readSync(fd, buf, off + n, size + 1 - n, n);
    if (r === 0) return n;
    n += r;
    if (n === size) return n;
  }
}
// A file longer than recorded: what was read so far, then on until its end, in its own buffer.
function readRest(fd, from, off, n) {
  let buf = Buffer.allocUnsafeSlow(Math.max(n * 2, 4096));
  from.copy(buf, 0, off, off + n);
  for (;;) {
    if (n === buf.length) {
      const bigger = Buffer.allocUnsafeSlow(buf.length * 2);
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    const r = fs.readSync(fd, buf, n, buf.length - n, n);
    if (r === 0) return { buf, n };
    n += r;
  }
}
parentPort.on('message', (req) => {
  const files = req.files;
  let packRoom = 0;
  for (const f of files) if (f.size <= SMALL) packRoom += f.size + 1;
  const pack = packRoom > 0 ? Buffer.allocUnsafeSlow(packRoom) : undefined;
  let packed = 0;
  const results = [];
  const transfer = [];
  for (const f of files) {
    let fd;
    try {
      fd = fs.openSync(f.path, 'r');
      if (f.size <= SMALL) {
        const n = readSized(fd, pack, packed, f.size);
        if (n <= f.size) {
          results.push({ offset: packed, length: n });
          packed += n;
        } else {
          const own = readRest(fd, pack, packed, n);
          results.push({ own: own.buf.buffer, length: own.n });
          transfer.push(own.buf.buffer);
        }
      } else {
        let own = Buffer.allocUnsafeSlow(f.size + 1);
        let n = readSized(fd, own, 0, f.size);
        if (n > f.size) {
          const rest = readRest(fd, own, 0, n);
          own = rest.buf;
          n = rest.n;
        }
        results.push({ own: own.buffer, length: n });
        transfer.push(own.buffer);
      }
    } catch (e) {
      results.push({ error: failure(e) });
    } finally {
      if (fd !== undefined) try { fs.closeSync(fd); } catch {}
    }
  }
  if (pack) transfer.push(pack.buffer);
  parentPort.postMessage({ id: req.id, pack: pack ? pack.buffer : undefined, results }, transfer);
});
`;

/** A file to read and the size the index records for it. */
export interface FileToRead {
  path: string;
  size: number;
}

interface FileResult {
  offset?: number;
  own?: ArrayBuffer;
  length?: number;
  error?: ThreadFailure;
}

interface Reply {
  id: number;
  pack?: ArrayBuffer;
  results: FileResult[];
}

interface Waiter {
  file: FileToRead;
  resolve: (b: Buffer) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  thread: JobThread<Reply, Waiter[]>;
  /** Files sent and not answered (the least busy thread gets the next request). */
  pendingFiles: number;
}

/** How many files went which way (tests and diagnostics). */
export interface FileReaderStats {
  threadFiles: number;
  fallbackFiles: number;
  threadDeaths: number;
}

export class FileReader {
  private readonly slots: Slot[] = [];
  private started = false;
  private closed = false;
  private restarts = 0;
  readonly stats: FileReaderStats = { threadFiles: 0, fallbackFiles: 0, threadDeaths: 0 };

  /** One file (see readMany). */
  read(file: string, size: number): Promise<Buffer> {
    return this.readMany([{ path: file, size }])[0]!;
  }

  /**
   * One promise per file, in the order given; files go to the threads in
   * requests of up to MAX_FILES_PER_REQUEST. A failed file rejects its own
   * promise only (and is no unhandled rejection while not yet awaited).
   */
  readMany(files: readonly FileToRead[]): Promise<Buffer>[] {
    const out: Promise<Buffer>[] = [];
    const waiters: Waiter[] = [];
    for (const file of files) {
      // Validated here, at the boundary: the thread trusts what it is sent.
      if (!file || typeof file.path !== 'string' || file.path === '' || !Number.isSafeInteger(file.size) || file.size < 0) {
        out.push(Promise.reject(new TypeError('readMany: each file needs a non-empty path and a non-negative integer size')));
        continue;
      }
      out.push(new Promise<Buffer>((resolve, reject) => waiters.push({ file: { path: file.path, size: file.size }, resolve, reject })));
    }
    for (let i = 0; i < waiters.length; i += MAX_FILES_PER_REQUEST) this.dispatch(waiters.slice(i, i + MAX_FILES_PER_REQUEST));
    // Callers may await them one by one: a later file failing first must not be an unhandled rejection (the caller still sees it).
    for (const p of out) p.catch(() => undefined);
    return out;
  }

  /** Ends the threads; what they had pending is read on the fallback, and so is everything after. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
  }

  /** The live threads (tests end one to check nothing is lost when a thread dies). */
  threads(): readonly { kill(): Promise<number> }[] {
    return this.slots.filter((s) => !s.thread.dead).map((s) => s.thread);
  }

  private dispatch(waiters: Waiter[]): void {
    if (waiters.length === 0) return;
    const slot = this.pick();
    if (!slot) {
      this.fallback(waiters);
      return;
    }
    slot.pendingFiles += waiters.length;
    slot.thread.send({ files: waiters.map((w) => w.file) }, waiters);
  }

  /** The online thread with the fewest files pending; starts the threads on first use and replaces dead ones (bounded). */
  private pick(): Slot | undefined {
    if (this.closed) return undefined;
    if (!this.started) {
      this.started = true;
      for (let i = 0; i < THREADS; i++) this.spawn();
    }
    for (let i = this.slots.length - 1; i >= 0; i--) {
      if (this.slots[i]!.thread.dead) {
        this.slots.splice(i, 1);
        if (this.restarts < MAX_RESTARTS) {
          this.restarts++;
          this.spawn();
        }
      }
    }
    let best: Slot | undefined;
    for (const s of this.slots) if (s.thread.online && !s.thread.dead && (!best || s.pendingFiles < best.pendingFiles)) best = s;
    return best;
  }

  private spawn(): void {
    // Set right after the constructor: a thread's events come from the event loop, never during it.
    let slot: Slot | undefined;
    try {
      const thread = new JobThread<Reply, Waiter[]>(THREAD, 'message reader', {
        reply: (r, waiters) => this.settle(slot!, r, waiters),
        died: (pending) => this.died(slot!, pending),
      });
      slot = { thread, pendingFiles: 0 };
    } catch {
      // No thread to be had (resource limits): stay on the fallback for good.
      this.restarts = MAX_RESTARTS;
      return;
    }
    this.slots.push(slot);
  }

  private settle(slot: Slot, r: Reply, waiters: Waiter[]): void {
    slot.pendingFiles -= waiters.length;
    this.stats.threadFiles += waiters.length;
    waiters.forEach((w, i) => {
      const res = r.results[i];
      if (!res) w.reject(new Error(`message reader thread gave no answer for ${w.file.path}`));
      else if (res.error) w.reject(threadError(res.error));
      else if (res.own) w.resolve(Buffer.from(res.own, 0, res.length));
      else if (r.pack && res.offset !== undefined) w.resolve(Buffer.from(r.pack, res.offset, res.length));
      else w.reject(new Error(`message reader thread gave a malformed answer for ${w.file.path}`));
    });
  }

  /** A thread died (or the reader closed): the files it had pending are read again on the fallback. */
  private died(slot: Slot, pending: Waiter[][]): void {
    this.stats.threadDeaths++;
    slot.pendingFiles = 0;
    this.fallback(pending.flat());
  }

  private fallback(waiters: readonly Waiter[]): void {
    for (const w of waiters) {
      this.stats.fallbackFiles++;
      readKnownSize(w.file.path, w.file.size).then(w.resolve, w.reject);
    }
  }
}

let shared: FileReader | undefined;

/** The process's reader (one per process: the threads serve every store and folder); threads start on the first read. */
export function sharedFileReader(): FileReader {
  return (shared ??= new FileReader());
}

/**
 * A message file's bytes: open, one read of the size the index records
 * (plus one byte, to notice a longer file), close — one thread-pool round
 * trip fewer than readFile's fstat for every message a FETCH or SEARCH
 * BODY reads. A short first read is taken as the end only when it is
 * exactly the expected size (Maildir files never change once written);
 * anything else (a bare-LF file Dovecot stored, a file longer than
 * recorded) reads on until the end of the file.
 */
async function readKnownSize(file: string, size: number): Promise<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === size) break;
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
