import { row, type BenchRow, type SuiteResult } from '../report';
import type { IsolationRow } from './scenarios';

const SUITE = 'isolation';

/** "12.3 ms" or "10.5 s" (scenarios.ts `fmtMs`) as milliseconds; undefined for anything else. */
function parseMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) (ms|s)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

/**
 * The isolation table (mailfleet only: the attacks have no anchor
 * counterpart) in the results format every suite shares. A latency cell
 * ("p50 / p99 / max" with values "1.2 ms / 3.4 ms / 9 ms") becomes one row
 * per figure in ms, a count one row in `count`; a cell that is a verdict
 * rather than a number ("OK", "3/200", "after 30 s") becomes a note, so
 * nothing the scenarios report is lost.
 */
export function isolationResult(table: readonly IsolationRow[]): SuiteResult {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const used = new Set<string>();
  const unique = (metric: string): string => {
    let m = metric;
    for (let i = 2; used.has(m); i++) m = `${metric} (${i})`;
    used.add(m);
    return m;
  };
  for (const r of table) {
    const values = r.value.split(' / ');
    const labels = r.metric.split(' / ');
    const ms = values.map(parseMs);
    if (values.length === labels.length && ms.every((x) => x !== undefined)) {
      // "bystander NOOP p50 / p99 / max": the first label is the last word of the first part.
      const first = labels[0].lastIndexOf(' ');
      const prefix = first < 0 ? '' : `${labels[0].slice(0, first)} `;
      const names = [first < 0 ? labels[0] : labels[0].slice(first + 1), ...labels.slice(1)];
      names.forEach((name, i) =>
        rows.push(row({ suite: SUITE, metric: unique(`${r.section}: ${values.length > 1 ? prefix + name : r.metric}`), unit: 'ms', mailfleet: ms[i] as number, better: 'lower', ...(i === 0 && r.note ? { note: r.note } : {}) })),
      );
    } else if (/^\d+$/.test(r.value)) {
      rows.push(row({ suite: SUITE, metric: unique(`${r.section}: ${r.metric}`), unit: 'count', mailfleet: Number(r.value), ...(r.note ? { note: r.note } : {}) }));
    } else {
      notes.push(`${r.section} — ${r.metric}: ${r.value}${r.note ? ` (${r.note})` : ''}`);
    }
  }
  return { rows, notes };
}
