import type { FsyncStats } from './fsync';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit (DESIGN.md: batch fsyncs for speed, never skip them). Each
 * writer has fsynced its own file and renamed it into place; what makes the
 * new names durable is an fsync of their directories, and what makes it safe
 * to acknowledge is the ownership check after it. Both are done once per
 * batch for every writer that asked before the batch started: while one
 * commit runs, new requests gather and go together in the next, so under
 * load one directory fsync covers many concurrent SMTP sessions, and a lone
 * writer waits for no timer.
 */
export class GroupCommit {
  private waiters: Waiter[] = [];
  private dirs = new Set<string>();
  private running = false;

  /**
   * @param commit fsyncs the directories (and checks ownership); a rejection fails every writer of the batch
   */
  constructor(
    private readonly commit: (dirs: ReadonlySet<string>) => Promise<void>,
    private readonly stats: FsyncStats,
  ) {}

  /** Resolves once a commit that started after this call has covered `dirs`. */
  request(dirs: readonly string[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      for (const d of dirs) this.dirs.add(d);
      if (!this.running) this.run();
    });
  }

  private run(): void {
    const waiters = this.waiters;
    const dirs = this.dirs;
    this.waiters = [];
    this.dirs = new Set();
    this.running = true;
    this.commit(dirs).then(
      () => {
        this.stats.commits++;
        this.stats.committedWrites += waiters.length;
        for (const w of waiters) w.resolve();
        this.next();
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
        this.next();
      },
    );
  }

  private next(): void {
    this.running = false;
    if (this.waiters.length > 0) this.run();
  }
}
