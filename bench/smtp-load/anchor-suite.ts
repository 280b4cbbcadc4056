/**
 * `npm run bench -- smtp-anchor`: the SMTP load against the anchor alone
 * (Postfix → Dovecot LMTP, time-to-visible through Dovecot's IMAP). Its
 * rows carry the same suite and metric names as the mailfleet side's
 * (`smtpRows`), so the report joins them into one row per figure with the
 * ratio. Sizes: BENCH_SMTP_COUNT (messages per size, default 2000) and
 * BENCH_SMTP_MS (time bound per size, default 20000).
 */
import { anchors, anchorSmtpTarget, POSTFIX_DEVIATIONS } from '../anchors';
import type { SuiteResult } from '../report';
import { smtpLoad, type SmtpLoadFigures } from './load';
import { smtpRows } from './rows';

/** The sizes and concurrency issue 14 names: 10 KB and 100 KB, 16 concurrent senders. */
export const SMTP_SIZES = [10 * 1024, 100 * 1024] as const;
export const SMTP_SENDERS = 16;
/** The recipients every SMTP comparison uses: one mailbox per sender. */
export const SMTP_USERS = Array.from({ length: SMTP_SENDERS }, (_, i) => ({ address: `rcpt${String(i).padStart(2, '0')}@bench.test`, password: `rcpt password ${i}` }));

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

export async function runSmtpAnchorBench(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<SuiteResult> {
  const avail = anchors(log);
  if (!avail.available) return { rows: [], notes: [`SMTP anchor not run: ${avail.reason}`] };
  const count = envInt('BENCH_SMTP_COUNT', 2000);
  const ms = envInt('BENCH_SMTP_MS', 20_000);
  let target;
  try {
    target = await anchorSmtpTarget({ users: SMTP_USERS });
  } catch (err) {
    return { rows: [], notes: [`SMTP anchor could not start: ${(err as Error).message.split('\n')[0]}`] };
  }
  const rows = [];
  const notes: string[] = [];
  try {
    for (const size of SMTP_SIZES) {
      log(`smtp-anchor: ${size / 1024} KB × up to ${count} messages, ${SMTP_SENDERS} senders, ≤ ${ms} ms ...`);
      const f: SmtpLoadFigures = await smtpLoad({
        host: target.host,
        port: target.port,
        messageSize: size,
        senders: SMTP_SENDERS,
        count,
        timeLimit: ms,
        to: SMTP_USERS.map((u) => u.address),
        visible: { port: target.imapPort, users: SMTP_USERS },
      });
      rows.push(...smtpRows('smtp', size, SMTP_SENDERS, { anchor: f }));
      notes.push(
        `Anchor ${target.name}, ${size / 1024} KB: ${f.accepted} accepted, ${f.failed} failed in ${(f.ms / 1000).toFixed(1)} s; ${f.visibleMs?.n ?? 0} seen in IMAP${f.errors.length ? `; errors: ${f.errors.join(' | ')}` : ''}.`,
      );
    }
  } finally {
    await target.stop();
  }
  return { rows, notes, settings: POSTFIX_DEVIATIONS.map((d) => `Postfix: ${d}`) };
}
