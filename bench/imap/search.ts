import { BenchClient } from './client';
import { RARE_SENDER, RARE_WORD, type BenchUser } from './corpus';

export interface SearchTarget {
  name: string;
  port: number;
}

export interface TimedCommand {
  label: string;
  command: string;
  note?: string;
  /** Per target: each run in order (the first may pay for cold caches), and the count in the reply (EXISTS for SELECT). */
  by: Record<string, { ms: number[]; results: number; error?: string }>;
}

function searchCount(lines: string[]): number {
  const l = lines.find((x) => x.startsWith('* SEARCH'));
  return l ? l.split(' ').length - 2 : -1;
}

/**
 * SELECT and SEARCH on the large folder, one connection per target, the
 * targets taking turns command by command (so a load change on the shared
 * machine hits both alike). SELECT runs `runs` times: first on a server
 * that has not opened the folder, then after an UNSELECT. Each command is
 * bounded by `timeoutMs`; a target that does not finish one is marked and
 * skipped for the rest. BODY runs on the last 10,000 messages unless
 * `fullBody`.
 */
export async function searchBench(
  targets: readonly SearchTarget[],
  user: BenchUser,
  count: number,
  opts: { runs: number; timeoutMs: number; fullBody: boolean },
  log: (s: string) => void,
): Promise<TimedCommand[]> {
  const { runs, timeoutMs, fullBody } = opts;
  const clients = new Map<string, BenchClient>();
  const broken = new Set<string>();
  try {
    for (const t of targets) {
      const c = await BenchClient.connect(t.port);
      await c.login(user.address, user.password);
      clients.set(t.name, c);
    }
    const out: TimedCommand[] = [];
    const select: TimedCommand = { label: 'SELECT INBOX', command: 'SELECT INBOX', note: 'first: folder opened and its index loaded in the server', by: {} };
    for (let r = 0; r < runs; r++) {
      for (const t of targets) {
        const c = clients.get(t.name) as BenchClient;
        const t0 = performance.now();
        const sel = await c.ok('SELECT INBOX', timeoutMs);
        const ms = performance.now() - t0;
        const exists = Number(/^\* (\d+) EXISTS$/m.exec(sel.lines.join('\n'))?.[1] ?? -1);
        if (exists !== count) throw new Error(`${t.name}: SELECT says ${exists} EXISTS, expected ${count}`);
        const e = (select.by[t.name] ??= { ms: [], results: exists });
        e.ms.push(ms);
        if (r < runs - 1) await c.ok('UNSELECT');
      }
    }
    out.push(select);

    // Index-only keys are cheap and run twice; keys that read every
    // message's headers or body run once to keep the bench short.
    const queries: Array<{ label: string; command: string; runs: number; note?: string }> = [
      { label: 'SEARCH UNSEEN', command: 'SEARCH UNSEEN', runs, note: 'flags only' },
      { label: 'UID SEARCH last 10,000', command: `UID SEARCH ${Math.max(1, count - 10_000)}:*`, runs, note: 'UIDs only' },
      { label: 'SEARCH SUBJECT', command: `SEARCH SUBJECT "#${count - 1}"`, runs: 1, note: 'the Subject of every message' },
      { label: 'SEARCH FROM', command: `SEARCH FROM "${RARE_SENDER}"`, runs: 1, note: 'a header of every message' },
      fullBody
        ? { label: 'SEARCH BODY', command: `SEARCH BODY "${RARE_WORD}"`, runs: 1, note: 'every body' }
        : { label: 'SEARCH BODY (last 10,000)', command: `SEARCH ${Math.max(1, count - 9_999)}:${count} BODY "${RARE_WORD}"`, runs: 1, note: 'bodies of the last 10,000 (BENCH_IMAP_FULL_BODY=1: all)' },
    ];
    for (const q of queries) {
      const tc: TimedCommand = { label: q.label, command: q.command, ...(q.note ? { note: q.note } : {}), by: {} };
      for (let r = 0; r < q.runs; r++) {
        for (const t of targets) {
          if (broken.has(t.name)) continue;
          const c = clients.get(t.name) as BenchClient;
          const e = (tc.by[t.name] ??= { ms: [], results: -1 });
          const t0 = performance.now();
          try {
            const res = await c.ok(q.command, timeoutMs, (l) => l.startsWith('* SEARCH'));
            e.ms.push(performance.now() - t0);
            e.results = searchCount(res.lines);
          } catch (err) {
            // The server may still be busy with it: record, and leave this target out from here on.
            e.error = (err as Error).message;
            broken.add(t.name);
          }
        }
      }
      log(`  ${q.command}: ${Object.entries(tc.by).map(([n, e]) => `${n} ${e.ms.map((x) => x.toFixed(0)).join(' / ')} ms (${e.results})`).join(', ')}`);
      out.push(tc);
    }
    for (const [name, c] of clients) if (!broken.has(name)) await c.logout();
    return out;
  } finally {
    for (const c of clients.values()) c.close();
  }
}
