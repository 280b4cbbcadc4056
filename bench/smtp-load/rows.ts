import { row, type BenchRow } from '../report';
import type { SmtpLoadFigures } from './load';

/**
 * The SMTP rows, one metric name per figure, so mailfleet's suite (gateway
 * → node) and the anchor run (Postfix → Dovecot LMTP) produce rows that
 * line up — in one call with both figures, or in two calls whose rows
 * mergeRows() joins.
 */
export function smtpRows(suite: string, messageSize: number, senders: number, figures: { mailfleet?: SmtpLoadFigures | null; anchor?: SmtpLoadFigures | null }): BenchRow[] {
  const kb = `${Math.round(messageSize / 1024)} KB`;
  const side = (f: SmtpLoadFigures | null | undefined, pick: (f: SmtpLoadFigures) => number | undefined): number | null => {
    const v = f ? pick(f) : undefined;
    return v === undefined || !Number.isFinite(v) ? null : v;
  };
  const anchorSide = 'anchor' in figures;
  const r = (metric: string, unit: string, better: 'higher' | 'lower', pick: (f: SmtpLoadFigures) => number | undefined, note?: string): BenchRow =>
    row({ suite, metric: `${metric}, ${kb}, ${senders} senders`, unit, mailfleet: side(figures.mailfleet, pick), ...(anchorSide ? { anchor: side(figures.anchor, pick) } : {}), better, ...(note ? { note } : {}) });
  return [
    r('messages accepted', 'msg/s', 'higher', (f) => f.perSecond, 'durable 250 on both sides'),
    r('acceptance latency p50', 'ms', 'lower', (f) => f.acceptMs.p50, 'MAIL FROM to the 250 after DATA'),
    r('acceptance latency p99', 'ms', 'lower', (f) => f.acceptMs.p99),
    r('time to visible in IMAP p50', 'ms', 'lower', (f) => f.visibleMs?.p50, 'MAIL FROM to the IDLE EXISTS announcing it'),
    r('time to visible in IMAP p99', 'ms', 'lower', (f) => f.visibleMs?.p99),
  ];
}
