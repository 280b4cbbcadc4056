import { availableParallelism } from 'node:os';
import { RuntimeLimits } from '../config';
import type { CheckPriority } from './limiter';
import { DEFAULT_SCRYPT, hashPassword, verifyPassword } from './password';
import type { PasswordVerifier } from './types';

/** No password-check worker will be free within the queue deadline: answer "try again later". */
export class PasswordChecksBusy extends Error {
  constructor() {
    super('password checks busy');
    this.name = 'PasswordChecksBusy';
  }
}

export interface PasswordCheckOptions {
  /** Hashes computed at once (config `limits.passwordCheckWorkers`). */
  workers: number | 'auto';
  /** Longest wait for a worker (config `limits.passwordCheckQueueMs`). */
  queueMs: number;
}

export function passwordCheckOptions(limits: RuntimeLimits): PasswordCheckOptions {
  return { workers: limits.passwordCheckWorkers, queueMs: limits.passwordCheckQueueMs };
}

/**
 * `auto`: the machine's cores, but at most two fewer than libuv's thread
 * pool, where scrypt runs next to the store's file I/O: hashes must never
 * take every thread the store needs.
 */
export function resolveWorkers(workers: number | 'auto', env: NodeJS.ProcessEnv = process.env): number {
  if (workers !== 'auto') return workers;
  const pool = Number(env.UV_THREADPOOL_SIZE) > 0 ? Math.floor(Number(env.UV_THREADPOOL_SIZE)) : 4;
  return Math.max(1, Math.min(availableParallelism(), pool - 2));
}

const ORDER: Record<CheckPriority, number> = { known: 0, clean: 1, suspect: 2 };

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

/** Durations of recent real checks that an unknown-user answer imitates. */
const SAMPLES = 64;
/** Older than this, the samples no longer say what a check costs now: do a real one. */
const SAMPLE_MAX_AGE_MS = 10 * 60 * 1000;

export interface PasswordCheckStats {
  workers: number;
  running: number;
  queued: number;
  /** Hashes computed since start (unknown users cost none). */
  hashes: number;
}

/**
 * The node's password checks: a fixed number of scrypt hashes at once
 * (each is ~32 MiB and tens of ms of CPU), one of them kept for `known`
 * logins, a queue ordered by CheckPriority, and a deadline. A check that would wait longer than
 * `queueMs` fails at once with PasswordChecksBusy (the protocol answers
 * "try again later"): under a flood, queued work cannot grow, and a user
 * logging in from their usual address goes ahead of the flood.
 *
 * Unknown user names cost no hash: such a login takes its turn in the
 * queue like any other, gives the worker back at once and then waits as
 * long as a real check took recently (a random one of the last
 * SAMPLES). Its answer takes as long as a real one — in the queue and
 * after — so response time does not tell which names exist, while a flood
 * of made-up names costs nothing but sleeping sockets.
 */
export class PasswordCheckPool {
  readonly workers: number;
  readonly queueMs: number;
  private running = 0;
  private hashes = 0;
  private readonly queues: Waiter[][] = [[], [], []];
  private readonly samples: number[] = [];
  private lastSampleAt = 0;
  private calibrating: Promise<void> | undefined;
  private dummyHash: Promise<string> | undefined;

  constructor(
    opts: PasswordCheckOptions = passwordCheckOptions(RuntimeLimits.parse(undefined)),
    private readonly onBusy: (priority: CheckPriority) => void = () => undefined,
  ) {
    this.workers = resolveWorkers(opts.workers);
    this.queueMs = opts.queueMs;
  }

  stats(): PasswordCheckStats {
    return { workers: this.workers, running: this.running, queued: this.queued(), hashes: this.hashes };
  }

  private queued(): number {
    return this.queues.reduce((n, q) => n + q.length, 0);
  }

  /** The checks of one login attempt, queued at `priority`. */
  verifier(priority: CheckPriority): PasswordVerifier {
    return {
      verify: (password, storedHash) => this.check(priority, password, storedHash),
      unknownUser: async () => {
        await this.calibrate(priority);
        const release = await this.acquire(priority);
        release();
        const ms = this.samples[Math.floor(Math.random() * this.samples.length)] ?? 0;
        await new Promise((r) => setTimeout(r, ms));
        return false;
      },
    };
  }

  private async check(priority: CheckPriority, password: string, storedHash: string): Promise<boolean> {
    const release = await this.acquire(priority);
    this.hashes++;
    const t0 = performance.now();
    try {
      return await verifyPassword(password, storedHash);
    } finally {
      this.sample(performance.now() - t0);
      release();
    }
  }

  /** Without recent real checks to imitate, an unknown user's check is a real one (of a dummy hash), once for all waiting. */
  private async calibrate(priority: CheckPriority): Promise<void> {
    if (this.samples.length && performance.now() - this.lastSampleAt < SAMPLE_MAX_AGE_MS) return;
    this.calibrating ??= (async () => {
      try {
        this.dummyHash ??= hashPassword('not-a-real-password', DEFAULT_SCRYPT);
        await this.check(priority, 'not the password', await this.dummyHash);
      } finally {
        this.calibrating = undefined;
      }
    })();
    await this.calibrating;
  }

  private sample(ms: number): void {
    if (this.samples.length >= SAMPLES) this.samples.shift();
    this.samples.push(ms);
    this.lastSampleAt = performance.now();
  }

  private averageMs(): number {
    return this.samples.length ? this.samples.reduce((a, b) => a + b, 0) / this.samples.length : 0;
  }

  /** Resolves with the release of a worker slot; rejects with PasswordChecksBusy past the deadline. */
  /**
   * Workers a check at `level` may use: all for `known`, one fewer for the
   * others (when there are two or more), so that a user logging in from
   * their usual address never waits for a check of the flood to finish.
   */
  private limitFor(level: number): number {
    return level === 0 ? this.workers : Math.max(1, this.workers - 1);
  }

  private acquire(priority: CheckPriority): Promise<() => void> {
    const level = ORDER[priority];
    const waitingAhead = this.queues.slice(0, level + 1).reduce((n, q) => n + q.length, 0);
    if (this.running < this.limitFor(level) && waitingAhead === 0) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    // Fail fast: when the checks queued at this priority or before it cannot be done within the deadline, do not wait for it.
    if (Math.ceil((waitingAhead + 1) / this.limitFor(level)) * this.averageMs() > this.queueMs) {
      this.onBusy(priority);
      return Promise.reject(new PasswordChecksBusy());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          this.running++;
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          const q = this.queues[level];
          const i = q.indexOf(waiter);
          if (i >= 0) q.splice(i, 1);
          this.onBusy(priority);
          reject(new PasswordChecksBusy());
        }, this.queueMs),
      };
      waiter.timer.unref();
      this.queues[level].push(waiter);
    });
  }

  /** Starts queued checks, highest priority first, while their levels have workers free. */
  private dispatch(): void {
    for (let level = 0; level < this.queues.length; level++) {
      const q = this.queues[level];
      while (q.length && this.running < this.limitFor(level)) q.shift()!.start();
      // Lower levels wait while this one still has checks queued.
      if (q.length) return;
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.dispatch();
    };
  }
}
