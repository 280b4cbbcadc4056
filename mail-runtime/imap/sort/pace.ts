/**
 * Bounded, yielding work for SORT and THREAD (the same rules as SEARCH,
 * issue 9): the caller's pacer gives the event loop back every
 * LIMITS.imapWorkSliceMs, and a budget stops a command that would take a
 * core for too long (the caller answers NO [LIMIT], RFC 5530).
 */

/** How long work is paced (CommandWork in the IMAP commands fits). */
export interface Pacer {
  /** Counts `units` of work; true when the caller should pause before the next step. */
  due(units: number): boolean;
  pause(): Promise<void>;
}

/** The command needed more work than allowed. */
export class WorkExceeded extends Error {
  constructor(
    readonly what: string,
    readonly maxUnits: number,
  ) {
    super(`${what} needs more work than allowed (${maxUnits} units)`);
  }
}

/**
 * Counts work units (about 100 ns of CPU each, as SEARCH counts them) and
 * paces: `spend()` throws WorkExceeded past the budget, and says when to
 * `pause()`.
 */
export class WorkBudget {
  private used = 0;
  constructor(
    private readonly pacer: Pacer,
    readonly maxUnits: number,
    private readonly what: string,
  ) {}

  get units(): number {
    return this.used;
  }

  /** Counts `units`; awaits a pause when the slice is used up. Throws WorkExceeded over the budget. */
  async spend(units: number): Promise<void> {
    this.used += units;
    if (this.used > this.maxUnits) throw new WorkExceeded(this.what, this.maxUnits);
    if (this.pacer.due(units)) await this.pacer.pause();
  }

  /** Counts units without pausing (inside a tight synchronous step); still bounded. */
  count(units: number): void {
    this.used += units;
    if (this.used > this.maxUnits) throw new WorkExceeded(this.what, this.maxUnits);
  }
}

/**
 * A stable merge sort that gives the event loop back while it works
 * (Array.prototype.sort cannot: 100,000 records with a multi-key
 * comparator take long enough to stall every other session). One unit per
 * comparison.
 */
export async function pacedSort<T>(items: readonly T[], cmp: (a: T, b: T) => number, work: WorkBudget): Promise<T[]> {
  let src = items.slice();
  const n = src.length;
  if (n < 2) return src;
  // Short runs sorted in place first: insertion sort on 16 items is cheaper than merging them.
  const RUN = 16;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(n, lo + RUN);
    for (let i = lo + 1; i < hi; i++) {
      const v = src[i]!;
      let j = i - 1;
      while (j >= lo && cmp(src[j]!, v) > 0) {
        src[j + 1] = src[j]!;
        j--;
      }
      src[j + 1] = v;
    }
    await work.spend(RUN * 4);
  }
  let dst = new Array<T>(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) dst[k++] = cmp(src[j]!, src[i]!) < 0 ? src[j++]! : src[i++]!;
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
      await work.spend(hi - lo);
    }
    [src, dst] = [dst, src];
  }
  return src;
}
