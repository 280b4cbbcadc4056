import { BenchClient } from './client';
import { RARE_SENDER, RARE_WORD, type BenchUser } from './corpus';

export interface TimedCommand {
  label: string;
  command: string;
  /** Each run in order (the first may pay for cold caches). */
  ms: number[];
  /** Numbers in the `* SEARCH` reply (or EXISTS for SELECT). */
  results: number;
  note?: string;
}

function searchCount(lines: string[]): number {
  const l = lines.find((x) => x.startsWith('* SEARCH'));
  return l ? l.split(' ').length - 2 : -1;
}

/**
 * SELECT and SEARCH on the large folder, on one connection. SELECT runs
 * `runs` times: first on a fresh server (the folder is not open yet), then
 * after an UNSELECT. Each command is bounded by `timeoutMs`; one that does
 * not finish is reported and ends the suite. BODY runs on the last 10,000
 * messages unless `fullBody` (a full-folder BODY search alone takes about a
 * minute at 100,000 messages here, too long for a 5-minute bench).
 */
export async function searchBench(
  port: number,
  user: BenchUser,
  count: number,
  opts: { runs: number; timeoutMs: number; fullBody: boolean },
  log: (s: string) => void,
): Promise<TimedCommand[]> {
  const { runs, timeoutMs, fullBody } = opts;
  const out: TimedCommand[] = [];
  const c = await BenchClient.connect(port);
  try {
    await c.login(user.address, user.password);
    const selects: number[] = [];
    let exists = -1;
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      const sel = await c.ok('SELECT INBOX', timeoutMs);
      selects.push(performance.now() - t);
      exists = Number(/^\* (\d+) EXISTS$/m.exec(sel.lines.join('\n'))?.[1] ?? -1);
      if (r < runs - 1) await c.ok('UNSELECT');
    }
    if (exists !== count) throw new Error(`SELECT says ${exists} EXISTS, expected ${count}`);
    out.push({ label: 'SELECT INBOX', command: 'SELECT INBOX', ms: selects, results: exists, note: 'first: folder opened and its index loaded in the server' });

    // Index-only keys are cheap and run twice; keys that read every
    // message's summary or body run once to keep the bench under 5 minutes.
    const queries: Array<{ label: string; command: string; runs: number; note?: string }> = [
      { label: 'SEARCH UNSEEN', command: 'SEARCH UNSEEN', runs, note: 'index only' },
      { label: 'UID SEARCH 90000:*', command: `UID SEARCH ${Math.max(1, count - 10_000)}:*`, runs, note: 'index only' },
      { label: 'SEARCH FROM', command: `SEARCH FROM "${RARE_SENDER}"`, runs: 1, note: 'header key: every cached summary, no body reads' },
      fullBody
        ? { label: 'SEARCH BODY', command: `SEARCH BODY "${RARE_WORD}"`, runs: 1, note: 'reads every body' }
        : {
            label: 'SEARCH BODY (last 10k)',
            command: `SEARCH ${Math.max(1, count - 9_999)}:${count} BODY "${RARE_WORD}"`,
            runs: 1,
            note: 'bodies of the last 10,000 (BENCH_IMAP_FULL_BODY=1: all)',
          },
    ];
    for (const q of queries) {
      const ms: number[] = [];
      let results = -1;
      for (let r = 0; r < q.runs; r++) {
        const t = performance.now();
        let res;
        try {
          res = await c.ok(q.command, timeoutMs, (l) => l.startsWith('* SEARCH'));
        } catch (err) {
          // The server may still be busy with it: record and stop here.
          out.push({ ...q, ms: [performance.now() - t], results: -1, note: `not finished: ${(err as Error).message}` });
          return out;
        }
        ms.push(performance.now() - t);
        results = searchCount(res.lines);
      }
      log(`  ${q.command}: ${ms.map((x) => x.toFixed(0)).join(' / ')} ms, ${results} results`);
      out.push({ label: q.label, command: q.command, ms, results, ...(q.note ? { note: q.note } : {}) });
    }
    await c.logout();
  } finally {
    c.close();
  }
  return out;
}
