import { describe, expect, it } from 'vitest';
import { budgetDecision, budgetSeconds, resultsMarkdown, RunResultsSchema, type RunResults } from '../../bench/report';

/** The run's time budget (issue 14): which suite starts, which is left out and why, and how the results say so. */
describe('bench budget', () => {
  it('starts a suite whose typical time still fits, and leaves out one that would overrun, naming the figures', () => {
    expect(budgetDecision({ elapsedS: 500, typicalS: 280, budgetS: 780, alone: false })).toEqual({ run: true });
    const out = budgetDecision({ elapsedS: 500.4, typicalS: 281, budgetS: 780, alone: false });
    expect(out.run).toBe(false);
    if (!out.run) expect(out.reason).toBe('500 s spent, it typically takes 281 s, the budget is 780 s (BENCH_BUDGET_SECONDS)');
  });

  it('always runs a suite asked for alone, however long it takes', () => {
    expect(budgetDecision({ elapsedS: 10, typicalS: 5000, budgetS: 780, alone: true })).toEqual({ run: true });
  });

  it('counts an unknown suite (typical 0) as fitting until the budget is spent', () => {
    expect(budgetDecision({ elapsedS: 780, typicalS: 0, budgetS: 780, alone: false }).run).toBe(true);
    expect(budgetDecision({ elapsedS: 781, typicalS: 0, budgetS: 780, alone: false }).run).toBe(false);
  });

  it('reads BENCH_BUDGET_SECONDS, and refuses a value that is not a positive number', () => {
    expect(budgetSeconds(undefined, 780)).toBe(780);
    expect(budgetSeconds('', 780)).toBe(780);
    expect(budgetSeconds('600', 780)).toBe(600);
    expect(() => budgetSeconds('0', 780)).toThrow(/BENCH_BUDGET_SECONDS must be a positive number of seconds, got "0"/);
    expect(() => budgetSeconds('ten', 780)).toThrow(/got "ten"/);
  });

  const run = (): RunResults => ({
    schema: 1,
    startedAt: '2026-12-02T20:40:00.000Z',
    finishedAt: '2026-12-02T20:52:00.000Z',
    durationS: 712.3,
    suites: ['floor', 'render', 'isolation'],
    commit: 'abc',
    dirty: false,
    machine: { cpus: 2, cpuModel: 'CPU', memGiB: 24, kernel: '6.1', node: 'v20', loadavg: { start: [1.5, 1, 1], end: [2.25, 2, 1] }, storage: '/tmp' },
    anchors: { available: false, reason: 'BENCH_ANCHORS=0', settings: [] },
    rows: [],
    notes: {},
    failures: [],
    suiteSeconds: { floor: 15.2, render: 40.1 },
    suiteLoad: { floor: { start: 1.5, end: 1.9 }, render: { start: 1.9, end: 2.25 } },
    budgetS: 780,
    skipped: ['isolation'],
    skippedWhy: { isolation: '700 s spent, it typically takes 150 s, the budget is 780 s (BENCH_BUDGET_SECONDS)' },
  });

  it('keeps the total, per-suite times and loads, the budget and the suites left out with their reason', () => {
    const parsed = RunResultsSchema.parse(JSON.parse(JSON.stringify(run())));
    expect(parsed).toMatchObject({ durationS: 712.3, budgetS: 780, skipped: ['isolation'], suiteLoad: { render: { start: 1.9, end: 2.25 } } });
    const md = resultsMarkdown(parsed);
    expect(md).toContain('| suite | seconds | load (1 min) at start → end |');
    expect(md).toContain('| render | 40.1 | 1.9 → 2.3 |');
    expect(md).toContain('| **total** (anchors found or installed included) | **712** | 1.5 → 2.3 |');
    expect(md).toContain('Budget: 780 s');
    expect(md).toContain('Not run, the time budget was spent: isolation (run them by name: `npm run bench -- isolation`).');
    expect(md).toContain('- isolation: 700 s spent, it typically takes 150 s');
  });

  it('still reads results written before the per-suite load and the budget were kept', () => {
    const old = run() as Partial<RunResults>;
    delete old.suiteLoad;
    delete old.budgetS;
    delete old.skippedWhy;
    const md = resultsMarkdown(RunResultsSchema.parse(old));
    expect(md).toContain('| floor | 15.2 |  |');
    expect(md).not.toContain('Budget:');
  });
});
