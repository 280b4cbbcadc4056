import type { FsyncStats } from './fsync';

interface Waiter<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit (DESIGN.md: batch fsyncs for speed, never skip them). Writers
 * hand in their item and wait; a commit writes every item that was waiting
 * when it started — one file, one fsync, one ownership check for all of
 * them — and only then are they told. New items gather for the next commit
 * meanwhile, so under load one fsync covers many concurrent SMTP sessions,
 * and a lone writer waits for no timer.
 *
 * `depth` commits may run at once (pipelining). With 1 (stop-and-wait) an
 * item arriving just after a commit started waits for that whole commit
 * (write, fsync, rename, directory fsync, ownership check) before its own
 * even begins: about two commit times. With 2 the next batch starts as soon
 * as it has an item, its fsync overlapping the previous commit's; the
 * filesystem joins concurrent fsyncs into one journal commit (ext4/XFS; an
 * NFS client pipelines its COMMITs), so the wait is about one commit time
 * and batches stay large under load (whatever arrives while both run
 * forms the next). Only for commits that are independent of each other
 * (each its own file): an append-only journal keeps depth 1.
 */
export class GroupCommit<T> {
  private waiting: Waiter<T>[] = [];
  private running = 0;

  /**
   * @param commit makes the items durable (and checks ownership); a rejection fails every writer of the batch
   * @param depth commits in flight at once (≥ 1)
   */
  constructor(
    private readonly commit: (items: readonly T[]) => Promise<void>,
    private readonly stats: FsyncStats,
    private readonly depth = 1,
  ) {
    if (!Number.isSafeInteger(depth) || depth < 1) throw new RangeError(`group commit depth must be a positive integer, got ${depth}`);
  }

  /** Resolves once a commit that started after this call has made `item` durable. */
  request(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.running < this.depth) this.run();
    });
  }

  private run(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.running++;
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
    this.running--;
    if (this.waiting.length > 0 && this.running < this.depth) this.run();
  }
}
