import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { HashReply } from './password-worker';

/**
 * Worker threads for the foreign password schemes (./password-schemes.ts).
 *
 * Why threads: scrypt runs in libuv's thread pool, but bcrypt (bcryptjs),
 * Argon2 (WebAssembly) and SHA-crypt's rounds are JavaScript; on the event
 * loop one Argon2id check (m=64 MiB, t=3: hundreds of ms here) would freeze
 * every IMAP, POP3 and LMTP session of the node for its duration, and the
 * PasswordCheckPool's concurrency bound does not help with that — it limits
 * how many run, not where. So each check runs in one of these threads; the
 * pool still decides how many run at once and in which order.
 *
 * Threads start on first use (a node whose users all have scrypt hashes
 * never starts one), stay while checks keep coming, and end after
 * IDLE_THREAD_MS without work (Argon2's memory goes with them).
 */

/** At most this many threads (more would only queue behind the pool's own bound). */
export const MAX_HASH_THREADS = Math.max(1, Math.min(4, availableParallelism()));
/** An idle thread ends after this long. */
const IDLE_THREAD_MS = 60_000;

/** The compiled worker next to this file: `.ts` under tsx/vitest in a checkout, `.js` in dist/. */
const ENTRY = path.join(__dirname, `password-worker${path.extname(__filename)}`);
/** Plain CommonJS bootstrap, so the thread can load the TypeScript entry through tsx when there is no dist/. */
const BOOT = `const { workerData } = require('node:worker_threads');
if (workerData.entry.endsWith('.ts')) require('tsx/cjs');
require(workerData.entry);`;

interface Job {
  password: string;
  stored: string;
  resolve: (ok: boolean) => void;
  reject: (e: Error) => void;
}

interface Thread {
  worker: Worker;
  job: (Job & { id: number }) | null;
  idle: NodeJS.Timeout | null;
}

export class HashThreads {
  private readonly threads = new Set<Thread>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  /** Checks answered by a thread since start (tests, metrics). */
  checks = 0;

  constructor(readonly max: number = MAX_HASH_THREADS) {}

  /** Threads running now (for tests and metrics). */
  get size(): number {
    return this.threads.size;
  }

  verify(password: string, stored: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('password threads are closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ password, stored, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let t = [...this.threads].find((x) => x.job === null);
      if (!t) {
        if (this.threads.size >= this.max) return;
        t = this.start();
      }
      this.run(t, this.queue.shift()!);
    }
  }

  private start(): Thread {
    const worker = new Worker(BOOT, { eval: true, workerData: { entry: ENTRY } });
    const t: Thread = { worker, job: null, idle: null };
    this.threads.add(t);
    worker.on('message', (reply: HashReply) => {
      const job = t.job;
      if (!job || reply.id !== job.id) return;
      t.job = null;
      this.checks++;
      if ('error' in reply) job.reject(new Error(`password check failed: ${reply.error}`));
      else job.resolve(reply.ok === true);
      this.idle(t);
      this.pump();
    });
    const lost = (why: string): void => {
      if (!this.threads.delete(t)) return;
      if (t.idle) clearTimeout(t.idle);
      t.job?.reject(new Error(`password worker thread ${why}`));
      t.job = null;
      this.pump();
    };
    worker.on('error', (e) => lost(`failed: ${e.message}`));
    worker.on('exit', (code) => lost(`exited with ${code}`));
    return t;
  }

  private run(t: Thread, job: Job): void {
    if (t.idle) clearTimeout(t.idle);
    t.idle = null;
    const id = this.nextId++;
    t.job = { ...job, id };
    // A check in flight keeps the process alive (a CLI waiting for it); an idle thread does not.
    t.worker.ref();
    t.worker.postMessage({ id, password: job.password, stored: job.stored });
  }

  private idle(t: Thread): void {
    t.worker.unref();
    t.idle = setTimeout(() => {
      this.threads.delete(t);
      void t.worker.terminate();
    }, IDLE_THREAD_MS);
    t.idle.unref();
  }

  /** Ends every thread; pending checks fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.reject(new Error('password threads are closed'));
    const all = [...this.threads];
    this.threads.clear();
    for (const t of all) {
      if (t.idle) clearTimeout(t.idle);
      t.job?.reject(new Error('password threads are closed'));
    }
    await Promise.all(all.map((t) => t.worker.terminate()));
  }
}

let shared: HashThreads | undefined;

/** The process's threads (one set per process, like libuv's pool for scrypt). */
export function sharedHashThreads(): HashThreads {
  shared ??= new HashThreads();
  return shared;
}
