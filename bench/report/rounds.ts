/**
 * Rounds of one measurement and their median: the one loop every suite that
 * repeats a fault (bench/pair, bench/cluster) or a login (bench/imap) uses,
 * so "median of N" means the same thing in every row.
 */

/** The median of `xs` (the upper middle one for an even count); NaN for no figures. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * Runs `round` `n` times, one after another (a round's fault and recovery
 * must not overlap the next one's), and returns every round's result in
 * order with the median of `figure` over them.
 */
export async function medianOfRounds<T>(n: number, round: (i: number) => Promise<T>, figure: (r: T) => number): Promise<{ runs: T[]; median: number }> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`rounds must be a positive integer, got ${n}`);
  const runs: T[] = [];
  for (let i = 0; i < n; i++) runs.push(await round(i));
  return { runs, median: median(runs.map(figure)) };
}
