export { row, mergeRows, mailfleetAhead, type BenchRow } from './rows';
export { writeResults, resultsMarkdown, suiteTable, fmtNumber, resultsStem, RunResultsSchema, type RunResults } from './results';
export { gitState, machineNow, load } from './machine';
export { median, medianOfRounds } from './rounds';
export { budgetDecision, budgetSeconds } from './budget';

/** What a suite hands back: its rows, and sentences a reader needs to interpret them. */
export interface SuiteResult {
  rows: import('./rows').BenchRow[];
  notes?: string[];
  /** Settings that make the comparison like with like (durability, hash cost, deviations from defaults). */
  settings?: string[];
}
