/**
 * The run's time budget (issue 14: `npm run bench` under 15 minutes with
 * every suite). Kept apart from bench/main.ts so the decision is a pure
 * function that test/bench can check without running a suite.
 */

/** What decides whether the next suite starts. */
export interface BudgetInput {
  /** Seconds the run has spent so far (anchors found or installed included). */
  elapsedS: number;
  /** Seconds this suite typically takes (TYPICAL_S in bench/main.ts; unknown suites 0). */
  typicalS: number;
  /** The whole run's budget (BENCH_BUDGET_SECONDS). */
  budgetS: number;
  /** The suite was the only one asked for: it always runs, the budget is for a run of several. */
  alone: boolean;
}

export type BudgetDecision = { run: true } | { run: false; reason: string };

/**
 * A suite starts only when the time spent plus what it typically takes
 * still fits the budget. Each suite bounds itself in count and time, so a
 * run ends near the budget at worst; a suite left out is named with the
 * reason, and can be run by name.
 */
export function budgetDecision(i: BudgetInput): BudgetDecision {
  if (i.alone) return { run: true };
  if (i.elapsedS + i.typicalS <= i.budgetS) return { run: true };
  return { run: false, reason: `${Math.round(i.elapsedS)} s spent, it typically takes ${Math.round(i.typicalS)} s, the budget is ${Math.round(i.budgetS)} s (BENCH_BUDGET_SECONDS)` };
}

/** BENCH_BUDGET_SECONDS when it is a positive number, else the default; anything else is an error naming the value. */
export function budgetSeconds(env: string | undefined, fallbackS: number): number {
  if (env === undefined || env.trim() === '') return fallbackS;
  const v = Number(env);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`BENCH_BUDGET_SECONDS must be a positive number of seconds, got "${env}"`);
  return v;
}
