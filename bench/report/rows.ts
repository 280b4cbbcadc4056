import { z } from 'zod';

/**
 * One figure of a benchmark run, side by side: what mailfleet measured and,
 * where the suite has one, what the anchor (Postfix / Dovecot from Debian,
 * on the same machine in the same run) measured for the same work.
 *
 * `ratio` is always mailfleet / anchor, whatever the unit; `better` says
 * which direction is good for this metric, so a reader (and the markdown
 * table) can tell whether a ratio above 1 is a win (messages/s) or a loss
 * (milliseconds, bytes per session).
 */
export const BenchRowSchema = z.object({
  suite: z.string().min(1),
  metric: z.string().min(1),
  unit: z.string().min(1),
  /** null when mailfleet's side failed or was not run. */
  mailfleet: z.number().finite().nullable(),
  /** Absent when the suite has no anchor figure for this metric; null when the anchor failed or was unavailable. */
  anchor: z.number().finite().nullable().optional(),
  ratio: z.number().finite().optional(),
  better: z.enum(['higher', 'lower']).optional(),
  note: z.string().optional(),
});
export type BenchRow = z.infer<typeof BenchRowSchema>;

export interface RowInput {
  suite: string;
  metric: string;
  unit: string;
  mailfleet: number | null;
  anchor?: number | null;
  better?: 'higher' | 'lower';
  note?: string;
}

/** A row with its ratio computed (only when both figures are there and the anchor's is not 0). */
export function row(r: RowInput): BenchRow {
  const out: BenchRow = { suite: r.suite, metric: r.metric, unit: r.unit, mailfleet: r.mailfleet };
  if (r.anchor !== undefined) out.anchor = r.anchor;
  if (r.mailfleet !== null && r.anchor !== undefined && r.anchor !== null && r.anchor !== 0) out.ratio = r.mailfleet / r.anchor;
  if (r.better) out.better = r.better;
  if (r.note) out.note = r.note;
  return BenchRowSchema.parse(out);
}

/**
 * Whether mailfleet is ahead on this row: `true`/`false` when the row has a
 * ratio and a direction, `undefined` otherwise.
 */
export function mailfleetAhead(r: BenchRow): boolean | undefined {
  if (r.ratio === undefined || !r.better) return undefined;
  return r.better === 'higher' ? r.ratio >= 1 : r.ratio <= 1;
}

/**
 * Merges rows that describe the same figure (same suite and metric) coming
 * from two places — e.g. a suite that measured only mailfleet and another
 * that measured only the anchor (the SMTP anchor run beside the gateway's
 * suite). The first non-null value of each side wins; the ratio is
 * recomputed. Order is the order of first appearance.
 */
export function mergeRows(rows: readonly BenchRow[]): BenchRow[] {
  const byKey = new Map<string, RowInput>();
  for (const r of rows) {
    const key = `${r.suite}\u0000${r.metric}`;
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { ...r });
      continue;
    }
    if (seen.unit !== r.unit) throw new Error(`bench rows for ${r.suite} / ${r.metric} disagree on the unit: ${seen.unit} vs ${r.unit}`);
    if (seen.mailfleet === null) seen.mailfleet = r.mailfleet;
    if (seen.anchor === undefined || seen.anchor === null) seen.anchor = r.anchor ?? seen.anchor;
    seen.better ??= r.better;
    if (r.note && r.note !== seen.note) seen.note = seen.note ? `${seen.note}; ${r.note}` : r.note;
  }
  return [...byKey.values()].map(row);
}
