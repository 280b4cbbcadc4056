import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BenchRowSchema, mailfleetAhead, type BenchRow } from './rows';

/** What one `npm run bench` run measured, as written to bench/results/<date>.json. */
export const RunResultsSchema = z.object({
  /** Bumped when the shape changes, so old results stay readable. */
  schema: z.literal(1),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationS: z.number(),
  suites: z.array(z.string()),
  commit: z.string().nullable(),
  /** True when the work tree had uncommitted changes to tracked files. */
  dirty: z.boolean(),
  machine: z.object({
    cpus: z.number(),
    cpuModel: z.string(),
    memGiB: z.number(),
    kernel: z.string(),
    node: z.string(),
    /** os.loadavg() (1, 5, 15 min) at start and end: the machine may be shared, and figures move with it. */
    loadavg: z.object({ start: z.array(z.number()), end: z.array(z.number()) }),
    storage: z.string(),
  }),
  anchors: z.object({
    available: z.boolean(),
    reason: z.string().optional(),
    versions: z.record(z.string(), z.string()).optional(),
    /** How each side acknowledges mail, and every setting where an anchor departs from its defaults. */
    settings: z.array(z.string()),
  }),
  rows: z.array(BenchRowSchema),
  notes: z.record(z.string(), z.array(z.string())),
  failures: z.array(z.object({ suite: z.string(), error: z.string() })),
  /** Seconds each suite took (wall clock), in run order; absent in results from before issue 14. */
  suiteSeconds: z.record(z.string(), z.number()).optional(),
  /** Suites not started because the run's time budget (BENCH_BUDGET_SECONDS) was spent. */
  skipped: z.array(z.string()).optional(),
  /** Why each of `skipped` was left out (time spent, its typical time, the budget). */
  skippedWhy: z.record(z.string(), z.string()).optional(),
  /** The run's budget in seconds (BENCH_BUDGET_SECONDS or the default). */
  budgetS: z.number().optional(),
  /** 1-minute load average when each suite started and ended: a suite's time and figures move with it. */
  suiteLoad: z.record(z.string(), z.object({ start: z.number(), end: z.number() })).optional(),
});
export type RunResults = z.infer<typeof RunResultsSchema>;

/** Three significant figures, thousands separated; integers of 1,000 and more as they are. */
export function fmtNumber(x: number | null | undefined): string {
  if (x === null || x === undefined) return '–';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en');
  if (a === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(digits, 4));
}

function ratioCell(r: BenchRow): string {
  if (r.ratio === undefined) return r.anchor === null ? 'anchor n/a' : '';
  const ahead = mailfleetAhead(r);
  const mark = ahead === undefined ? '' : ahead ? ' ✓' : ' ✗';
  return `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio < 0.01 ? r.ratio.toPrecision(2) : r.ratio.toFixed(2)}×${mark}`;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The rows of one suite as a markdown table. */
export function suiteTable(rows: readonly BenchRow[]): string {
  const hasAnchor = rows.some((r) => r.anchor !== undefined);
  const head = hasAnchor ? ['metric', 'unit', 'mailfleet', 'anchor', 'mailfleet / anchor', 'note'] : ['metric', 'unit', 'value', 'note'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((h) => (h === 'metric' || h === 'note' || h === 'unit' ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) {
    const cells = hasAnchor
      ? [r.metric, r.unit, fmtNumber(r.mailfleet), r.anchor === undefined ? '' : fmtNumber(r.anchor), ratioCell(r), r.note ?? '']
      : [r.metric, r.unit, fmtNumber(r.mailfleet), r.note ?? ''];
    lines.push(`| ${cells.map(esc).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The whole run as markdown: context, one table per suite, notes, failures. */
export function resultsMarkdown(res: RunResults): string {
  const m = res.machine;
  const load = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' / ');
  const out: string[] = [
    `# Benchmark run ${res.startedAt}`,
    '',
    `- suites: ${res.suites.join(', ')} (${Math.round(res.durationS)} s)`,
    `- commit: ${res.commit ?? 'unknown'}${res.dirty ? ' (with uncommitted changes)' : ''}`,
    `- machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}; storage: ${m.storage}`,
    `- load average (1/5/15 min): ${load(m.loadavg.start)} at start, ${load(m.loadavg.end)} at end${
      Math.max(...m.loadavg.start, ...m.loadavg.end) > m.cpus ? ' — **the machine was shared and busy: absolute figures are low and noisy; compare the ratios**' : ''
    }`,
    `- anchors: ${
      res.anchors.available
        ? Object.entries(res.anchors.versions ?? {})
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : `not available (${res.anchors.reason ?? 'unknown reason'}): mailfleet alone`
    }`,
    '',
    'Ratios are mailfleet / anchor; ✓ marks a row where mailfleet is ahead (higher is better for rates, lower for times and memory), ✗ where it is behind.',
  ];
  const suites = [...new Set(res.rows.map((r) => r.suite))];
  for (const s of suites) {
    out.push('', `## ${s}`, '', suiteTable(res.rows.filter((r) => r.suite === s)));
    const notes = res.notes[s] ?? [];
    if (notes.length) out.push('', ...notes.map((n) => `- ${n}`));
  }
  for (const [s, notes] of Object.entries(res.notes)) {
    if (suites.includes(s) || notes.length === 0) continue;
    out.push('', `## ${s}`, '', ...notes.map((n) => `- ${n}`));
  }
  if (res.anchors.settings.length) out.push('', '## Like with like: settings', '', ...res.anchors.settings.map((s) => `- ${s}`));
  if (res.suiteSeconds) {
    const times = Object.entries(res.suiteSeconds);
    const loadCell = (s: string): string => {
      const l = res.suiteLoad?.[s];
      return l ? `${l.start.toFixed(1)} → ${l.end.toFixed(1)}` : '';
    };
    out.push(
      '',
      '## Time',
      '',
      '| suite | seconds | load (1 min) at start → end |',
      '| --- | ---: | ---: |',
      ...times.map(([s, t]) => `| ${s} | ${fmtNumber(t)} | ${loadCell(s)} |`),
      `| **total** (anchors found or installed included) | **${fmtNumber(res.durationS)}** | ${m.loadavg.start[0]?.toFixed(1) ?? ''} → ${m.loadavg.end[0]?.toFixed(1) ?? ''} |`,
    );
    if (res.budgetS !== undefined) out.push('', `Budget: ${fmtNumber(res.budgetS)} s (BENCH_BUDGET_SECONDS); a suite starts only if its typical time still fits.`);
    if (res.skipped?.length) {
      out.push('', `Not run, the time budget was spent: ${res.skipped.join(', ')} (run them by name: \`npm run bench -- ${res.skipped.join(' ')}\`).`);
      for (const s of res.skipped) if (res.skippedWhy?.[s]) out.push(`- ${s}: ${res.skippedWhy[s]}`);
    }
  }
  if (res.failures.length) out.push('', '## Failures', '', ...res.failures.map((f) => `- ${f.suite}: ${esc(f.error)}`));
  return `${out.join('\n')}\n`;
}

/** `2026-12-01T23-40-05Z`: sortable, unique per second, no characters a file system dislikes. */
export function resultsStem(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Writes `<dir>/<date>.json` (validated) and `<dir>/<date>.md`; returns both paths. */
export async function writeResults(dir: string, res: RunResults): Promise<{ json: string; md: string }> {
  const valid = RunResultsSchema.parse(res);
  await mkdir(dir, { recursive: true });
  const stem = resultsStem(new Date(valid.startedAt));
  const json = join(dir, `${stem}.json`);
  const md = join(dir, `${stem}.md`);
  await writeFile(json, `${JSON.stringify(valid, null, 2)}\n`);
  await writeFile(md, resultsMarkdown(valid));
  return { json, md };
}
