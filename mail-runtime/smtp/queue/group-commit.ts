import type { FsyncStats } from './fsync';

interface Waiter<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit (DESIGN.md: batch fsyncs for speed, never skip them). Writers
 * hand in their item and wait; one commit at a time writes every item that
 * was waiting when it started — one file, one fsync, one directory fsync,
 * one ownership check for all of them — and only then are they told. While
 * a commit runs, new items gather for the next, so under load one fsync
 * covers many concurrent SMTP sessions, and a lone writer waits for no timer.
 */
export class GroupCommit<T> {
  private waiting: Waiter<T>[] = [];
  private running = false;

  /**
   * @param commit makes the items durable (and checks ownership); a rejection fails every writer of the batch
   */
  constructor(
    private readonly commit: (items: readonly T[]) => Promise<void>,
    private readonly stats: FsyncStats,
  ) {}

  /** Resolves once a commit that started after this call has made `item` durable. */
  request(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.running) this.run();
    });
  }

  private run(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.running = true;
    this.commit(batch.map((w) => w.item)).then(
      () => {
        this.stats.commits++;
        this.stats.committedWrites += batch.length;
        for (const w of batch) w.resolve();
        this.next();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
        this.next();
      },
    );
  }

  private next(): void {
    this.running = false;
    if (this.waiting.length > 0) this.run();
  }
}
