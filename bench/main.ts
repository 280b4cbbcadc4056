import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { anchors, durabilityStatements } from './anchors';
import { runDirectoryBench, runFailoverBench } from './cluster';
import { runFloorBench } from './floor';
import { runImapBench } from './imap';
import { runIsolationBench } from './isolation';
import { runPairBench } from './pair';
import { gitState, load, machineNow, mergeRows, resultsMarkdown, row, writeResults, type BenchRow, type RunResults, type SuiteResult } from './report';
import { runSmtpBench } from './smtp';

/**
 * `npm run bench [-- <suite...>]`. Suites return rows (mailfleet beside the
 * anchor where there is one); this file collects them, writes
 * bench/results/<date>.json and .md, and prints the table (progress goes
 * to stderr). Nothing here is a pass/fail test
 * (timed assertions do not belong in `npm test`). bench/README.md says how
 * to read the results.
 */
const SUITES: Record<string, () => Promise<SuiteResult> | SuiteResult> = {
  floor: () => runFloorBench(),
  render: () => {
    const rows: BenchRow[] = [];
    const notes = ['100 nodes, 10 gateways, 4 proxies, 3 hubs, 1,000 domains under Pulumi mocks, one process per platform.'];
    for (const platform of ['kubernetes', 'docker', 'proxmox', 'vsphere']) {
      try {
        const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'render-one.ts'), platform], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        const r = JSON.parse(out.trim().split('\n').pop()!) as { resources: number; ms: number; rssMiB: number };
        rows.push(row({ suite: 'render', metric: `${platform}: render ${r.resources} resources`, unit: 'ms', mailfleet: r.ms, better: 'lower', note: `rss ${r.rssMiB} MiB` }));
      } catch (err) {
        const e = err as { stderr?: string };
        notes.push(`${platform} failed: ${(e.stderr ?? String(err)).trim().split('\n')[0]}`);
      }
    }
    return { rows, notes };
  },
  imap: () => runImapBench(),
  smtp: () => runSmtpBench(),
  isolation: () => runIsolationBench(),
  // The cluster suites print their own tables (bench/cluster); the results file points at them.
  failover: async () => {
    await runFailoverBench();
    return { rows: [], notes: ['node failover (kill -9 / SIGSTOP → served again): table printed by bench/cluster above'] };
  },
  directory: () => runDirectoryBench(),
  pair: () => runPairBench(),
};

async function main() {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : Object.keys(SUITES);
  const unknown = names.filter((n) => !SUITES[n]);
  if (unknown.length) {
    process.stderr.write(`bench: unknown suite "${unknown.join('", "')}"; suites: ${Object.keys(SUITES).join(', ')}\n`);
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
  for (const name of names) {
    process.stderr.write(`bench: ${name} ...\n`);
    try {
      const res = await SUITES[name]();
      rows.push(...res.rows);
      if (res.notes?.length) notes[name] = res.notes;
      for (const s of res.settings ?? []) if (!settings.includes(s)) settings.push(s);
    } catch (err) {
      failures.push({ suite: name, error: (err as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(err) });
      process.stderr.write(`bench: ${name} failed: ${(err as Error).message}\n`);
    }
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
  };
  const dir = process.env.BENCH_RESULTS_DIR ?? join(__dirname, 'results');
  const written = await writeResults(dir, results);
  process.stdout.write(resultsMarkdown(results));
  process.stdout.write(`\nbench: results in ${written.json} and ${written.md}\n`);
  if (failures.length) process.exitCode = 1;
}

void main();
