import { expect } from 'vitest';
import type { Step } from './smtp';

/**
 * The expectations of a protocol table in the shape play() returns (regular
 * expressions become matchers), so a table compares with one toEqual and a
 * failure shows every row. Apart from ./smtp.ts so that the node helpers
 * stay usable outside vitest (benchmarks).
 */
export function expected(steps: readonly Step[]): unknown[] {
  const m = (e: string | RegExp): unknown => (typeof e === 'string' ? e : expect.stringMatching(e));
  return steps.map((s) => ('send' in s ? m(s.expect) : s.expect.map(m)));
}
