/**
 * `npm run bench -- imap`: figures for the node's IMAP server, printed as a
 * table (never pass/fail). The server runs as a child process
 * (`mail-runtime/node/main.ts`, as `mailfleet node` runs it) on loopback
 * with a temporary storage folder, so its memory is read from
 * /proc/<pid>/status apart from the bench's client sockets.
 *
 * Suites: logins/s (production scrypt and, for contrast, a cheap hash),
 * APPEND + FETCH of 1,000 20–50 KB messages, SELECT + SEARCH on a
 * 100,000-message folder (build time reported separately), and server RSS
 * per 1,000 idle IDLE sessions. Every loop is bounded in count and time.
 *
 * Sizes can be lowered for a quick look with environment variables:
 * BENCH_IMAP_FOLDER (default 100000), BENCH_IMAP_FETCH
 * (1000), BENCH_IMAP_IDLE (1000). BENCH_IMAP_FULL_BODY=1 runs SEARCH BODY
 * over the whole folder instead of its last 10,000 messages (adds about a
 * minute).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCRYPT, type ScryptParams } from '../../mail-runtime/auth';
import { buildLargeFolder, type BuildResult } from './build-folder';
import { startNodeChild, type NodeChild } from './child';
import { writeUsers, type BenchUser } from './corpus';
import { fetchBench, type FetchFigures } from './fetch';
import { idleBench, type IdleFigures } from './idle';
import { loginLoop, scryptCost, type LoginFigures } from './logins';
import { searchBench, type TimedCommand } from './search';

/** Cheap scrypt for users whose login is not what is measured (IDLE, FETCH, SEARCH set-up). */
const CHEAP_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const MB = 1024 * 1024;
const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row {
  section: string;
  metric: string;
  value: string;
  note?: string;
}

function printTable(rows: Row[], extra: string[]): void {
  const w = [Math.max(...rows.map((r) => r.section.length)), Math.max(...rows.map((r) => r.metric.length)), Math.max(...rows.map((r) => r.value.length))];
  const out: string[] = [];
  let last = '';
  for (const r of rows) {
    const section = r.section === last ? '' : r.section;
    last = r.section;
    out.push(`  ${section.padEnd(w[0])}  ${r.metric.padEnd(w[1])}  ${r.value.padStart(w[2])}${r.note ? `  ${r.note}` : ''}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  for (const e of extra) process.stdout.write(`  ${e}\n`);
}

export async function runImapBench(): Promise<void> {
  const folderSize = envInt('BENCH_IMAP_FOLDER', 100_000);
  const fetchCount = envInt('BENCH_IMAP_FETCH', 1000);
  const idleSessions = envInt('BENCH_IMAP_IDLE', 1000);
  const started = performance.now();
  process.stdout.write(
    `imap: node as a child process on loopback, temp storage; ${cpus().length} CPU(s), Node ${process.version}\n`,
  );

  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-imap-'));
  const usersFile = join(dir, 'users.yaml');
  const prod: BenchUser = { address: 'prod@bench.test', password: 'prod password', scrypt: DEFAULT_SCRYPT };
  const cheap: BenchUser = { address: 'cheap@bench.test', password: 'cheap password', scrypt: CHEAP_SCRYPT };
  const fetchUser: BenchUser = { address: 'fetch@bench.test', password: 'fetch password', scrypt: CHEAP_SCRYPT };
  const big: BenchUser = { address: 'big@bench.test', password: 'big password', scrypt: CHEAP_SCRYPT };
  const idleUsers: BenchUser[] = Array.from({ length: 100 }, (_, i) => ({
    address: `idle${String(i).padStart(3, '0')}@bench.test`,
    password: `idle password ${i}`,
    scrypt: CHEAP_SCRYPT,
  }));
  await writeUsers(usersFile, [prod, cheap, fetchUser, big, ...idleUsers]);

  const rows: Row[] = [];
  const extra: string[] = [];
  const failed = (section: string, err: unknown): void => {
    const msg = (err as Error).message ?? String(err);
    log(`${section} failed: ${msg}`);
    rows.push({ section, metric: 'failed', value: '-', note: msg.split('\n')[0].slice(0, 160) });
  };

  let node: NodeChild | undefined;
  try {
    // ---- 100k folder, built before the server starts (no IMAP involved)
    let build: BuildResult | undefined;
    log(`building a ${folderSize}-message folder ...`);
    try {
      build = await buildLargeFolder(join(dir, 'storage'), big.address, folderSize, log);
      rows.push(
        { section: 'folder build', metric: `${folderSize.toLocaleString('en')} msgs, ${(build.bytes / MB).toFixed(0)} MiB`, value: fmtMs(build.filesMs + build.indexMs + build.summariesMs), note: 'total' },
        { section: 'folder build', metric: 'Maildir files written', value: fmtMs(build.filesMs), note: 'straight into cur/, no fsync' },
        { section: 'folder build', metric: 'index (reconcile on open)', value: fmtMs(build.indexMs), note: 'UIDs + snapshot for every file' },
        { section: 'folder build', metric: 'summary cache filled', value: fmtMs(build.summariesMs), note: 'parse each message once, as APPEND does' },
      );
    } catch (err) {
      failed('folder build', err);
    }

    log('starting the node ...');
    try {
      node = await startNodeChild(dir, usersFile);
    } catch (err) {
      failed('node', err);
      process.exitCode = 1;
      return;
    }

    // ---- logins
    log('logins ...');
    try {
      const cost = await scryptCost(DEFAULT_SCRYPT, 5);
      const cheapCost = await scryptCost(CHEAP_SCRYPT, 20);
      const figures: LoginFigures[] = [
        await loginLoop(node.imapPort, prod, 1, 30, 20_000, 'sequential, production scrypt'),
        await loginLoop(node.imapPort, prod, 8, 80, 20_000, '8 parallel, production scrypt'),
        await loginLoop(node.imapPort, cheap, 1, 400, 8_000, 'sequential, cheap scrypt (N=1024)'),
        await loginLoop(node.imapPort, cheap, 8, 1500, 8_000, '8 parallel, cheap scrypt (N=1024)'),
      ];
      for (const f of figures) {
        rows.push({ section: 'LOGIN/LOGOUT', metric: f.label, value: `${f.perSecond.toFixed(1)}/s`, note: `${f.logins} logins in ${fmtMs(f.ms)}, new connection each` });
      }
      const { N, r, p } = DEFAULT_SCRYPT;
      extra.push(
        `LOGIN cost is mostly scrypt: one verification with the production parameters (N=${N}, r=${r}, p=${p}) takes ` +
          `${cost.toFixed(1)} ms here (≤ ${(1000 / cost).toFixed(0)}/s per core); with N=1024 it takes ${cheapCost.toFixed(2)} ms ` +
          `and the same login loop runs ${(figures[2].perSecond / figures[0].perSecond).toFixed(1)}× faster.`,
      );
    } catch (err) {
      failed('LOGIN/LOGOUT', err);
    }

    // ---- APPEND + FETCH
    log(`APPEND + FETCH of ${fetchCount} messages ...`);
    try {
      const f: FetchFigures = await fetchBench(node.imapPort, fetchUser, fetchCount, 3);
      const mib = f.bytes / MB;
      const best = Math.min(...f.rounds.map((x) => x.ms));
      const med = median(f.rounds.map((x) => x.ms));
      rows.push(
        {
          section: 'APPEND',
          metric: `${f.messages} msgs, ${mib.toFixed(1)} MiB, LITERAL+`,
          value: `${((f.messages * 1000) / f.appendMs).toFixed(0)} msg/s`,
          note: `${(mib / (f.appendMs / 1000)).toFixed(1)} MiB/s, ${fmtMs(f.appendMs)}, 32 in flight, each durable (fsync) before OK`,
        },
        { section: 'FETCH 1:* BODY.PEEK[]', metric: `${f.messages} msgs, ${mib.toFixed(1)} MiB`, value: `${(mib / (best / 1000)).toFixed(1)} MiB/s`, note: `best of ${f.rounds.length}: ${fmtMs(best)}; median ${(mib / (med / 1000)).toFixed(1)} MiB/s` },
      );
    } catch (err) {
      failed('FETCH', err);
    }

    // ---- SELECT + SEARCH
    if (build) {
      log(`SELECT + SEARCH on ${folderSize} messages ...`);
      try {
        const results: TimedCommand[] = await searchBench(node.imapPort, big, folderSize, { runs: 2, timeoutMs: 120_000, fullBody: process.env.BENCH_IMAP_FULL_BODY === '1' }, log);
        for (const r of results) {
          rows.push({
            section: `${folderSize.toLocaleString('en')}-msg folder`,
            metric: r.command.length > 40 ? r.label : r.command,
            value: fmtMs(r.ms[r.ms.length - 1]),
            note: `${r.ms.length > 1 ? `first ${fmtMs(r.ms[0])}; ` : ''}${r.results} ${r.label.startsWith('SELECT') ? 'EXISTS' : 'hits'}${r.note ? `; ${r.note}` : ''}`,
          });
        }
      } catch (err) {
        failed('SEARCH', err);
      }
    }
    await node.stop();
    node = undefined;

    // ---- IDLE memory, on a fresh server process
    log(`${idleSessions} IDLE sessions ...`);
    try {
      node = await startNodeChild(dir, usersFile);
      const f: IdleFigures = await idleBench(node, idleUsers, idleSessions);
      const delta = f.rssAfter - f.rssBefore;
      rows.push(
        { section: 'IDLE sessions', metric: `${f.sessions} sessions over ${f.users} users`, value: `${(delta / MB).toFixed(1)} MiB`, note: `server RSS ${(f.rssBefore / MB).toFixed(0)} → ${(f.rssAfter / MB).toFixed(0)} MiB (VmRSS of the child)` },
        { section: 'IDLE sessions', metric: 'per session', value: `${(delta / f.sessions / 1024).toFixed(1)} KiB`, note: `opened (LOGIN, SELECT, IDLE; cheap scrypt) in ${fmtMs(f.openMs)}` },
        { section: 'IDLE sessions', metric: 'new-mail push', value: `${f.notified}/${f.notifiable}`, note: `IDLE sessions of one user that saw EXISTS after an APPEND` },
      );
    } catch (err) {
      failed('IDLE sessions', err);
    }
  } finally {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
    printTable(rows, extra);
  }
  process.stdout.write(`  (bench ran ${fmtMs(performance.now() - started)})\n`);
}
