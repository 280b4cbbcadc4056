import { Worker, type TransferListItem } from 'node:worker_threads';

/**
 * The plumbing the runtime's file threads share (the queue's segment
 * writer, the store's message writer and message readers: issue 14, every
 * libuv round trip from a busy event loop waited its turn, so each chain of
 * file-system calls runs in a thread whose loop is idle and the main loop
 * hears once).
 *
 * A thread's code is plain JavaScript evaluated as a worker (`eval: true`):
 * it runs the same under tsx (tests, `npm start`) and from the compiled
 * dist/ (no separate file to locate), and it starts without the process's
 * execArgv (under tsx that would load tsx into every thread for nothing).
 */

/** A failed system call as a thread reports it: the fields callers test (`code === 'ENOENT'`; errors.ts tells I/O errors by code + syscall). */
export interface ThreadFailure {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** JavaScript for a thread's code: `failure(e)` turns a caught error into a ThreadFailure (structured clone keeps no Error fields). */
export const FAILURE_JS = `
function failure(e) {
  const s = (k) => (e && typeof e[k] === 'string' ? e[k] : undefined);
  return { message: String((e && e.message) || e), code: s('code'), errno: e && typeof e.errno === 'number' ? e.errno : undefined, syscall: s('syscall'), path: s('path') };
}
`;

/**
 * JavaScript for a thread's code (it needs `fs` in scope): `writeAll(fd,
 * parts, where)` writes every byte of `parts` (Buffers or Uint8Arrays) at
 * the descriptor's position. writev may write less than asked (a signal, a
 * nearly full disk): it goes on from where it stopped.
 */
export const WRITE_ALL_JS = `
function writeAll(fd, parts, where) {
  const bufs = parts.slice();
  while (bufs.length > 0) {
    let n = fs.writevSync(fd, bufs);
    if (n === 0) throw new Error(where + ': write made no progress');
    while (bufs.length > 0 && n >= bufs[0].length) n -= bufs.shift().length;
    if (bufs.length > 0 && n > 0) bufs[0] = bufs[0].subarray(n);
  }
}
`;

/** The error a thread reported, as the system call's own (same message, code, errno, syscall, path). */
export function threadError(f: ThreadFailure): Error {
  const err: NodeJS.ErrnoException = new Error(f.message);
  if (f.code !== undefined) err.code = f.code;
  if (f.errno !== undefined) err.errno = f.errno;
  if (f.syscall !== undefined) err.syscall = f.syscall;
  if (f.path !== undefined) err.path = f.path;
  return err;
}

export interface JobThreadHooks<Reply, P> {
  /** The answer to a request; `p` is what send() was given with it. */
  reply(r: Reply, p: P): void;
  /** The thread died (or was terminated): the requests it had not answered, for the owner to fail or redo elsewhere. */
  died(pending: P[], err: Error): void;
}

/**
 * One thread and the requests sent to it and not yet answered (each reply
 * carries the request's `id`). Idle, the thread never holds the process
 * open (the servers do that); with a request pending it does, so a script
 * awaiting a read or a durable write is not cut short. Every listener is
 * attached before unref(): an event must never find nobody listening.
 * 'error' and 'exit' both come when a thread dies; the first counts.
 */
export class JobThread<Reply extends { id: number }, P> {
  /** Set on the thread's 'online' event (the message reader sends nothing before: its fallback is faster than a thread's start). */
  online = false;
  dead = false;
  private readonly worker: Worker;
  private readonly pending = new Map<number, P>();
  private nextId = 1;

  constructor(
    source: string,
    private readonly name: string,
    private readonly hooks: JobThreadHooks<Reply, P>,
  ) {
    this.worker = new Worker(source, { eval: true, execArgv: [] });
    this.worker.on('online', () => {
      this.online = true;
    });
    this.worker.on('message', (r: Reply) => this.settle(r));
    this.worker.on('error', (err: Error) => this.die(err));
    this.worker.on('exit', (code: number) => this.die(new Error(`${name} thread exited (${code})`)));
    this.worker.unref();
  }

  /** Requests sent and not answered. */
  get size(): number {
    return this.pending.size;
  }

  /** Sends `message` with a fresh id; `p` comes back to hooks.reply with the answer (or to hooks.died). */
  send(message: object, p: P, transfer?: readonly TransferListItem[]): void {
    const id = this.nextId++;
    this.pending.set(id, p);
    if (this.pending.size === 1) this.worker.ref();
    this.worker.postMessage({ ...message, id }, transfer);
  }

  /** Ends the thread; what it had pending goes to hooks.died with `reason` first. */
  async terminate(reason: Error = new Error(`${this.name} closed`)): Promise<void> {
    this.die(reason);
    await this.worker.terminate().catch(() => undefined);
  }

  /** For tests: end the thread as a crash would (its pending requests go to hooks.died). */
  kill(): Promise<number> {
    return this.worker.terminate();
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (p === undefined) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.worker.unref();
    this.hooks.reply(r, p);
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.hooks.died(pending, err);
  }
}
