import { join } from 'node:path';
import { anchors, durabilityStatements } from './anchors';
import { runDirectoryBench, runFailoverBench } from './cluster';
import { runFloorBench } from './floor';
import { runImapBench } from './imap';
import { runIsolationBench } from './isolation';
import { runPairBench } from './pair';
import { runRenderBench } from './render';
import { budgetDecision, budgetSeconds, gitState, load, machineNow, mergeRows, resultsMarkdown, writeResults, type BenchRow, type RunResults, type SuiteResult } from './report';
import { runSmtpBench } from './smtp';

/**
 * `npm run bench [-- <suite...>]`. Suites return rows (mailfleet beside the
 * anchor where there is one); this file collects them, writes
 * bench/results/<date>.json and .md, and prints the table (progress goes
 * to stderr). Nothing here is a pass/fail test
 * (timed assertions do not belong in `npm test`). bench/README.md says how
 * to read the results.
 */
// In the order a default run takes them: issue 14's targets first (SMTP and IMAP beside the anchors, failover),
// then the figures without a goal there; the run's time budget leaves out the last ones first.
const SUITES: Record<string, () => Promise<SuiteResult> | SuiteResult> = {
  floor: () => runFloorBench(),
  smtp: () => runSmtpBench(),
  imap: () => runImapBench(),
  failover: () => runFailoverBench(),
  pair: () => runPairBench(),
  render: () => runRenderBench(),
  directory: () => runDirectoryBench(),
  isolation: () => runIsolationBench(),
};

/**
 * The whole run's bound (issue 14: `npm run bench` under 15 minutes). A suite starts only when the time
 * spent plus what it typically takes still fits (TYPICAL_S); a suite is bounded in count and time by
 * itself, so the run ends near the budget at worst, and the suites left out are listed.
 */
const DEFAULT_BUDGET_S = 13 * 60;
/**
 * Seconds each suite takes on the shared 2-core machine at load ≈ 10–20 (2026-12-02, issue 14,
 * bench/README.md "Run time"; imap 265 s as measured with the 100,000-message folder (431 s in a run at higher load), smtp as measured at load
 * 16–24): pessimistic for a quiet machine, which is the point — a suite that would overrun the
 * budget there is not started; on a quiet machine every suite fits (the sum is ≈ the budget and
 * each suite runs faster than this). Unknown suites count as 0.
 */
const TYPICAL_S: Record<string, number> = { floor: 20, smtp: 160, imap: 265, failover: 55, pair: 85, render: 60, directory: 25, isolation: 140 };

async function main() {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : Object.keys(SUITES);
  const unknown = names.filter((n) => !SUITES[n]);
  if (unknown.length) {
    process.stderr.write(`bench: unknown suite "${unknown.join('", "')}"; suites: ${Object.keys(SUITES).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  // The whole run is bounded: once the budget is spent no further suite starts (each suite bounds itself in count and time).
  let budgetS: number;
  try {
    budgetS = budgetSeconds(process.env.BENCH_BUDGET_SECONDS, DEFAULT_BUDGET_S);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const startedAt = new Date();
  const loadStart = load();
  const t0 = performance.now();
  // Find (or install) the anchors once, before any suite, so install time is not inside a measurement.
  const avail = anchors((s) => process.stderr.write(`${s}\n`));
  process.stderr.write(`bench: anchors ${avail.available ? `Postfix ${avail.versions.postfix}, Dovecot ${avail.versions.dovecot}` : `unavailable (${avail.reason}): mailfleet alone`}\n`);

  const rows: BenchRow[] = [];
  const notes: Record<string, string[]> = {};
  const settings: string[] = [];
  const failures: RunResults['failures'] = [];
  const suiteSeconds: Record<string, number> = {};
  const suiteLoad: Record<string, { start: number; end: number }> = {};
  const skipped: string[] = [];
  const skippedWhy: Record<string, string> = {};
  for (const name of names) {
    const elapsedS = (performance.now() - t0) / 1000;
    // A suite named on the command line alone always runs: the budget is for the whole run.
    const decision = budgetDecision({ elapsedS, typicalS: TYPICAL_S[name] ?? 0, budgetS, alone: names.length === 1 });
    if (!decision.run) {
      skipped.push(name);
      skippedWhy[name] = decision.reason;
      process.stderr.write(`bench: ${name} skipped: ${decision.reason}\n`);
      continue;
    }
    process.stderr.write(`bench: ${name} ... (${Math.round(elapsedS)} s so far)\n`);
    const loadAtStart = load()[0] ?? 0;
    const s0 = performance.now();
    try {
      const res = await SUITES[name]();
      rows.push(...res.rows);
      if (res.notes?.length) notes[name] = res.notes;
      for (const s of res.settings ?? []) if (!settings.includes(s)) settings.push(s);
    } catch (err) {
      failures.push({ suite: name, error: (err as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(err) });
      process.stderr.write(`bench: ${name} failed: ${(err as Error).message}\n`);
    }
    suiteSeconds[name] = Math.round((performance.now() - s0) / 100) / 10;
    suiteLoad[name] = { start: loadAtStart, end: load()[0] ?? 0 };
    process.stderr.write(`bench: ${name} took ${suiteSeconds[name]} s (load ${suiteLoad[name].start} → ${suiteLoad[name].end})\n`);
  }
  if (avail.available && !settings.some((s) => s.startsWith('Durable acknowledgement'))) settings.unshift(...durabilityStatements());

  const { commit, dirty } = gitState();
  const results: RunResults = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - t0) / 100) / 10,
    suites: names,
    commit,
    dirty,
    machine: { ...machineNow(), loadavg: { start: loadStart, end: load() } },
    anchors: avail.available
      ? { available: true, versions: { postfix: avail.versions.postfix, dovecot: avail.versions.dovecot }, settings }
      : { available: false, reason: avail.reason, settings },
    rows: mergeRows(rows),
    notes,
    failures,
    suiteSeconds,
    suiteLoad,
    budgetS,
    ...(skipped.length ? { skipped, skippedWhy } : {}),
  };
  const dir = process.env.BENCH_RESULTS_DIR ?? join(__dirname, 'results');
  const written = await writeResults(dir, results);
  process.stdout.write(resultsMarkdown(results));
  process.stdout.write(`\nbench: results in ${written.json} and ${written.md}\n`);
  if (failures.length) process.exitCode = 1;
}

void main();
