/**
 * `npm run bench -- imap`: the node's IMAP server side by side with Dovecot
 * (the anchor, a private instance from Debian's packages; see
 * bench/anchors), on loopback, same machine, same run, taking turns section
 * by section. Both servers are child process trees, so their memory is read
 * from /proc apart from the bench's client sockets.
 *
 * Sections: logins/s (the same password-hash cost on both sides, and each
 * at its default), APPEND + FETCH of 1,000 20–50 KB messages, SELECT +
 * SEARCH on a 100,000-message folder (the same Maildir files for both), and
 * memory per 1,000 idle IDLE sessions (all processes of each server, RSS and
 * PSS). Every loop is bounded in count and time.
 *
 * Sizes can be lowered for a quick look with environment variables:
 * BENCH_IMAP_FOLDER (default 100000), BENCH_IMAP_FETCH (1000),
 * BENCH_IMAP_IDLE (1000). BENCH_IMAP_FULL_BODY=1 runs SEARCH BODY over the
 * whole folder instead of its last 10,000 messages. BENCH_ANCHORS=0 runs
 * mailfleet alone.
 */
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCRYPT, type ScryptParams } from '../../mail-runtime/auth';
import { anchors, cheapDovecotHash, DOVECOT_DEVIATIONS, durabilityStatements, processTree, startDovecot, treeMemory, type DovecotInstance, type PasswdEntry, type TreeMemory } from '../anchors';
import { median, row, type BenchRow, type SuiteResult } from '../report';
import { candidateHash, DOVECOT_DEFAULT_SCHEME, fillDovecotFolder, SCHEME_CANDIDATES, type SchemeCandidate } from './anchor';
import { buildLargeFolder, maildirCurOf, type BuildResult } from './build-folder';
import { startNodeChild, type NodeChild } from './child';
import { writeUsers, type BenchUser } from './corpus';
import { alternatingFetchRounds, appendCorpus, capabilitiesAfterLogin, FETCH_MEASURED_ROUNDS, FETCH_WARM_UP_ROUNDS, type AppendedCorpus, type FetchRoundFigures } from './fetch';
import { idleBench, type IdleFigures } from './idle';
import { loginLoop, medianLoginMs, scryptCost, type LoginFigures } from './logins';
import { searchBench } from './search';

const SUITE = 'imap';
/** Cheap scrypt for users whose login is not what is measured (IDLE, FETCH, SEARCH set-up). */
const CHEAP_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };
const MB = 1024 * 1024;
/**
 * The node's password-check queue deadline in this suite: 60 s, the most its
 * config allows (default 2 s). By default a login that would wait longer than
 * 2 s for a check fails at once with `NO [UNAVAILABLE]` (issue 9: a flood
 * must not queue without bound). Dovecot has no such fail-fast: its login
 * process waits for its auth service instead (up to about a minute). The
 * throughput sections measure how fast logins are checked, not how soon
 * either side turns them away, so the node waits too. The fail-fast itself
 * is measured by the `isolation` suite, which keeps the default.
 */
const BENCH_NODE_LIMITS = { passwordCheckQueueMs: 60_000, credentialCacheSeconds: 0 };
/**
 * The node above runs without its verified-credential cache
 * (`credentialCacheSeconds: 0`, default 60 s): the login rows compare the
 * work of checking passwords, and the Dovecot anchor runs without its auth
 * cache (auth_cache_size = 0, its default). One more row measures repeated
 * logins on a second node with the cache at its default.
 */
const CACHED_NODE_LIMITS = { passwordCheckQueueMs: 60_000 };

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);

/** One side of the comparison. */
interface Side {
  name: 'mailfleet' | 'dovecot';
  port: number;
  memory(): Promise<TreeMemory>;
  /** The server's processes (for CPU time). */
  pids(): Promise<number[]>;
}

export async function runImapBench(): Promise<SuiteResult> {
  const folderSize = envInt('BENCH_IMAP_FOLDER', 100_000);
  const fetchCount = envInt('BENCH_IMAP_FETCH', 1000);
  const idleSessions = envInt('BENCH_IMAP_IDLE', 1000);
  const started = performance.now();
  const avail = anchors(log);
  log(`imap: node and ${avail.available ? `Dovecot ${avail.versions.dovecot}` : `no anchor (${avail.reason})`} on loopback, temp storage`);

  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-imap-'));
  // mkdtemp makes it 0700; Dovecot's unprivileged processes must traverse it to their folder.
  await chmod(dir, 0o755);
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

  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const settings: string[] = [];
  const add = (r: Parameters<typeof row>[0]): void => {
    rows.push(row(r));
  };
  const failed = (section: string, err: unknown): void => {
    const msg = (err as Error).message ?? String(err);
    log(`${section} failed: ${msg}`);
    notes.push(`${section} failed: ${msg.split('\n')[0].slice(0, 300)}`);
  };

  // Dovecot's users: the same addresses; the login-measured ones get the
  // schemes under test, the others a cheap salted hash (SSHA512).
  const dovecotUsers: PasswdEntry[] = [cheap, fetchUser, big, ...idleUsers].map((u) => ({ user: u.address, hash: cheapDovecotHash(u.password) }));
  const candidates: Array<SchemeCandidate & { user: BenchUser; params: string }> = [];
  let dovecotDefault: (SchemeCandidate & { user: BenchUser; params: string }) | undefined;
  if (avail.available) {
    log('hashing the Dovecot candidates (doveadm pw) ...');
    try {
      for (const [i, c] of [...SCHEME_CANDIDATES, DOVECOT_DEFAULT_SCHEME].entries()) {
        const user: BenchUser = { address: `scheme${i}@bench.test`, password: `scheme password ${i}`, scrypt: CHEAP_SCRYPT };
        const { hash, params } = candidateHash(c, user.password);
        dovecotUsers.push({ user: user.address, hash });
        if (c === DOVECOT_DEFAULT_SCHEME) dovecotDefault = { ...c, user, params };
        else candidates.push({ ...c, user, params });
      }
    } catch (err) {
      failed('Dovecot password hashes', err);
    }
  }

  let node: NodeChild | undefined;
  let dovecot: DovecotInstance | undefined;
  const sides = (): Side[] => {
    const s: Side[] = [];
    if (node) {
      const n = node;
      s.push({ name: 'mailfleet', port: n.imapPort, memory: () => treeMemory(n.pid), pids: () => processTree(n.pid) });
    }
    if (dovecot) {
      const d = dovecot;
      s.push({ name: 'dovecot', port: d.imapPort, memory: () => d.memory(), pids: () => processTree(d.pid) });
    }
    return s;
  };

  try {
    // ---- the large folder: built once (Maildir files + the node's index), then the same files for Dovecot
    let build: BuildResult | undefined;
    log(`building a ${folderSize}-message folder ...`);
    try {
      build = await buildLargeFolder(join(dir, 'storage'), big.address, folderSize, log);
      notes.push(
        `Folder build (not compared): ${folderSize.toLocaleString('en')} messages, ${(build.bytes / MB).toFixed(0)} MiB of Maildir files written in ${fmtMs(build.filesMs)} (no fsync); ` +
          `the node indexed them in ${fmtMs(build.indexMs)} and filled its summary cache (each message parsed once, as APPEND does) in ${fmtMs(build.summariesMs)}.`,
      );
    } catch (err) {
      failed('folder build', err);
    }

    log('starting the node ...');
    try {
      node = await startNodeChild(dir, usersFile, BENCH_NODE_LIMITS);
    } catch (err) {
      failed('node', err);
      return { rows, notes };
    }
    if (avail.available) {
      log('starting Dovecot ...');
      try {
        dovecot = await startDovecot({ dir: join(dir, 'dovecot'), users: dovecotUsers, maxSessions: idleSessions + 50 });
        settings.push(...durabilityStatements(dovecot), ...DOVECOT_DEVIATIONS.map((d) => `Dovecot: ${d}`));
        if (build) {
          const f = await fillDovecotFolder(maildirCurOf(join(dir, 'storage'), big.address), dovecot, big.address);
          notes.push(`Dovecot got the same ${f.files.toLocaleString('en')} Maildir files (hard links); \`doveadm index\` built its index and cache in ${fmtMs(f.indexMs)}.`);
        }
      } catch (err) {
        failed('Dovecot', err);
        await dovecot?.stop();
        dovecot = undefined;
      }
    }
    const dv = dovecot;

    // ---- password-hash cost: mailfleet's scrypt, and the Dovecot scheme closest to it in time
    log('password-hash cost ...');
    let matched: (typeof candidates)[number] | undefined;
    let mfHashMs: number | null = null;
    try {
      const inProcess = await scryptCost(DEFAULT_SCRYPT, 5);
      const mfCheap = await medianLoginMs(node.imapPort, cheap, 9);
      mfHashMs = Math.max(0, (await medianLoginMs(node.imapPort, prod, 5)) - mfCheap);
      const { N, r, p } = DEFAULT_SCRYPT;
      settings.push(
        `mailfleet: limits.passwordCheckQueueMs = ${BENCH_NODE_LIMITS.passwordCheckQueueMs} ms (default 2000): logins wait for a password-check worker as Dovecot's wait for its auth process, instead of failing fast with NO [UNAVAILABLE]; ` +
          'a login still answered NO [UNAVAILABLE] is retried on a new connection, counted in the row\'s note and not as a login.',
        `Password hash: mailfleet scrypt N=${N}, r=${r}, p=${p} (${(128 * N * r) / MB} MiB), one verification ${inProcess.toFixed(0)} ms in-process here; ` +
          'Dovecot 2.3 has no scrypt, so its side uses the scheme whose measured cost is closest (below), and SHA512-CRYPT for "each at its default".',
      );
      if (dv) {
        const dvCheap = await medianLoginMs(dv.imapPort, cheap, 9);
        const costs: Array<{ c: (typeof candidates)[number]; ms: number }> = [];
        for (const c of candidates) {
          const ms = Math.max(0.01, (await medianLoginMs(dv.imapPort, c.user, 3)) - dvCheap);
          costs.push({ c, ms });
          log(`  Dovecot ${c.label}${c.params ? ` (${c.params})` : ''}: ${ms.toFixed(1)} ms per login over a cheap hash`);
          // BLF-CRYPT doubles per step: stop climbing once well past the target.
          if (c.scheme === 'BLF-CRYPT' && ms > 2.5 * (mfHashMs || 1)) {
            const rest = candidates.filter((x) => x.scheme !== 'BLF-CRYPT' && !costs.some((k) => k.c === x));
            for (const x of rest) {
              const xm = Math.max(0.01, (await medianLoginMs(dv.imapPort, x.user, 3)) - dvCheap);
              costs.push({ c: x, ms: xm });
              log(`  Dovecot ${x.label}${x.params ? ` (${x.params})` : ''}: ${xm.toFixed(1)} ms per login over a cheap hash`);
            }
            break;
          }
        }
        const target = Math.max(0.01, mfHashMs);
        const best = costs.reduce((a, b) => (Math.abs(Math.log(b.ms / target)) < Math.abs(Math.log(a.ms / target)) ? b : a));
        matched = best.c;
        const dvDefaultMs = dovecotDefault ? Math.max(0, (await medianLoginMs(dv.imapPort, dovecotDefault.user, 5)) - dvCheap) : null;
        // No `better`: these rows show the costs are matched, not who wins.
        add({ suite: SUITE, metric: 'one password verification, same-cost schemes', unit: 'ms', mailfleet: mfHashMs, anchor: best.ms, note: `scrypt N=2^15 vs Dovecot ${best.c.label}${best.c.params ? ` (${best.c.params})` : ''}; login time minus a cheap-hash login` });
        if (dvDefaultMs !== null) add({ suite: SUITE, metric: 'one password verification, each at its default', unit: 'ms', mailfleet: mfHashMs, anchor: dvDefaultMs, note: `scrypt N=2^15 vs Dovecot ${DOVECOT_DEFAULT_SCHEME.label}` });
        notes.push(`Dovecot candidates (ms per verification, measured as login time minus a cheap-hash login): ${costs.map((k) => `${k.c.label} ${k.ms.toFixed(1)}`).join('; ')}. Chosen: ${best.c.label}.`);
      } else {
        add({ suite: SUITE, metric: 'one password verification, same-cost schemes', unit: 'ms', mailfleet: mfHashMs, note: 'login time minus a cheap-hash login' });
      }
    } catch (err) {
      failed('password-hash cost', err);
    }

    // ---- logins: same cost, each at its default, and a negligible hash (protocol + process cost)
    log('logins ...');
    try {
      const loops: Array<{ metric: string; mf: BenchUser; dvUser?: BenchUser; workers: number; max: number; ms: number; note: string }> = [
        { metric: 'LOGIN/LOGOUT, same hash cost, sequential', mf: prod, dvUser: matched?.user, workers: 1, max: 30, ms: 12_000, note: `new connection each${matched ? `; Dovecot ${matched.label}` : ''}` },
        { metric: 'LOGIN/LOGOUT, same hash cost, 8 parallel', mf: prod, dvUser: matched?.user, workers: 8, max: 80, ms: 12_000, note: 'new connection each' },
        { metric: 'LOGIN/LOGOUT, each at its default hash, 8 parallel', mf: prod, dvUser: dovecotDefault?.user, workers: 8, max: 400, ms: 8_000, note: `scrypt N=2^15 vs ${DOVECOT_DEFAULT_SCHEME.label}` },
        { metric: 'LOGIN/LOGOUT, negligible hash, sequential', mf: cheap, dvUser: cheap, workers: 1, max: 400, ms: 5_000, note: 'scrypt N=1024 vs SSHA512: protocol and process cost' },
        { metric: 'LOGIN/LOGOUT, negligible hash, 8 parallel', mf: cheap, dvUser: cheap, workers: 8, max: 1500, ms: 5_000, note: 'scrypt N=1024 vs SSHA512' },
      ];
      for (const l of loops) {
        const a: LoginFigures = await loginLoop(node.imapPort, l.mf, l.workers, l.max, l.ms, l.metric);
        const b: LoginFigures | undefined = dv && l.dvUser ? await loginLoop(dv.imapPort, l.dvUser, l.workers, l.max, l.ms, l.metric) : undefined;
        const retried = [
          ...(a.unavailable ? [`mailfleet ${a.unavailable} NO [UNAVAILABLE] retried`] : []),
          ...(b?.unavailable ? [`Dovecot ${b.unavailable} NO [UNAVAILABLE] retried`] : []),
        ];
        add({ suite: SUITE, metric: l.metric, unit: 'logins/s', mailfleet: a.perSecond, ...(dv ? { anchor: b ? b.perSecond : null } : {}), better: 'higher', note: [l.note, ...retried].join('; ') });
      }
    } catch (err) {
      failed('LOGIN/LOGOUT', err);
    }
    // ---- repeated logins of one client: the node's verified-credential cache at its default vs Dovecot at its default (no auth cache)
    log('logins, credential cache ...');
    let cachedNode: NodeChild | undefined;
    try {
      const cacheDir = join(dir, 'cached-node');
      await mkdir(cacheDir, { recursive: true });
      cachedNode = await startNodeChild(cacheDir, usersFile, CACHED_NODE_LIMITS);
      const metric = 'LOGIN/LOGOUT, same hash cost, 8 parallel, node credential cache at default';
      const a = await loginLoop(cachedNode.imapPort, prod, 8, 400, 8_000, metric);
      const b = dv && matched ? await loginLoop(dv.imapPort, matched.user, 8, 400, 8_000, metric) : undefined;
      const note = `one user logging in again and again; node limits.credentialCacheSeconds = 60 (default), Dovecot auth_cache_size = 0 (default)${matched ? `; Dovecot ${matched.label}` : ''}`;
      add({ suite: SUITE, metric, unit: 'logins/s', mailfleet: a.perSecond, ...(dv ? { anchor: b ? b.perSecond : null } : {}), better: 'higher', note });
    } catch (err) {
      failed('LOGIN/LOGOUT with the credential cache', err);
    } finally {
      await cachedNode?.stop();
    }

    // ---- APPEND + FETCH, rounds alternating
    log(`APPEND + FETCH of ${fetchCount} messages ...`);
    const corpora: Array<{ side: Side; corpus: AppendedCorpus }> = [];
    try {
      const caps = await Promise.all(sides().map((s) => capabilitiesAfterLogin(s.port, fetchUser)));
      const multi = caps.length > 0 && caps.every((c) => c.includes('MULTIAPPEND'));
      for (const s of sides()) corpora.push({ side: s, corpus: await appendCorpus(s.port, fetchUser, fetchCount, multi) });
      const mf = corpora.find((c) => c.side.name === 'mailfleet')?.corpus;
      const an = corpora.find((c) => c.side.name === 'dovecot')?.corpus;
      const mib = (mf ?? an)!.bytes / MB;
      add({
        suite: SUITE,
        metric: `APPEND ${fetchCount} × 20–50 KB (${mib.toFixed(1)} MiB)`,
        unit: 'msg/s',
        mailfleet: mf ? (mf.messages * 1000) / mf.appendMs : null,
        ...(dv ? { anchor: an ? (an.messages * 1000) / an.appendMs : null } : {}),
        better: 'higher',
        note: multi ? 'MULTIAPPEND batches of 32 (both advertise it), each durable before OK' : `single APPENDs with LITERAL+, 32 in flight, each durable before OK (MULTIAPPEND not advertised by ${caps.map((c, i) => (c.includes('MULTIAPPEND') ? '' : sides()[i].name)).filter(Boolean).join(', ')})`,
      });
      // Unmeasured rounds per side first, taking turns (fetch.ts FETCH_WARM_UP_ROUNDS): both then
      // serve from a warm page cache and warm code (the node's JavaScript is optimised over its
      // first rounds; its message-reader threads start on first use), so the measured rounds
      // compare steady states, not who happened to go first.
      const rounds: Record<string, FetchRoundFigures[] | undefined> = await alternatingFetchRounds(corpora.map((c) => ({ name: c.side.name, corpus: c.corpus, serverPids: c.side.pids })));
      const best = (n: string): number | null => {
        const xs = rounds[n];
        return xs ? mib / (Math.min(...xs.map((x) => x.ms)) / 1000) : null;
      };
      const how = `${FETCH_MEASURED_ROUNDS} rounds each, alternating, after ${FETCH_WARM_UP_ROUNDS} unmeasured rounds each`;
      add({ suite: SUITE, metric: `FETCH 1:* BODY.PEEK[] of ${fetchCount} messages`, unit: 'MiB/s', mailfleet: best('mailfleet'), ...(dv ? { anchor: best('dovecot') } : {}), better: 'higher', note: `best of ${how}` });
      const measured = Object.entries(rounds).flatMap(([n, xs]) => (xs ? [[n, xs] as const] : []));
      notes.push(`FETCH medians (${how}): ${measured.map(([n, xs]) => `${n} ${(mib / (median(xs.map((x) => x.ms)) / 1000)).toFixed(1)} MiB/s`).join(', ')}.`);
      notes.push(
        `FETCH rounds (wall ms / bench-client CPU ms / server CPU ms, all its threads and processes): ${measured
          .map(([n, xs]) => `${n} ${xs.map((x) => `${x.ms.toFixed(0)}/${x.clientCpuMs.toFixed(0)}/${x.serverCpuMs ?? '?'}`).join(', ')}`)
          .join('; ')}.`,
      );
    } catch (err) {
      failed('APPEND + FETCH', err);
    } finally {
      for (const c of corpora) c.corpus.client.close();
    }

    // ---- SELECT + SEARCH on the large folder, command by command alternating
    if (build) {
      log(`SELECT + SEARCH on ${folderSize} messages ...`);
      try {
        const results = await searchBench(sides(), big, folderSize, { runs: 2, timeoutMs: 120_000, fullBody: process.env.BENCH_IMAP_FULL_BODY === '1' }, log);
        for (const r of results) {
          const mf = r.by.mailfleet;
          const an = r.by.dovecot;
          const pick = (e: typeof mf | undefined, i: number): number | null => (e && !e.error && e.ms.length > i ? e.ms[i] : null);
          const label = `${r.label}, ${folderSize.toLocaleString('en')}-message folder`;
          const hits = `${mf?.results ?? an?.results} ${r.label.startsWith('SELECT') ? 'EXISTS' : 'hits'}`;
          const errs = [mf?.error && `mailfleet: ${mf.error}`, an?.error && `dovecot: ${an.error}`].filter(Boolean).join('; ');
          if ((mf?.ms.length ?? 0) > 1 || (an?.ms.length ?? 0) > 1) {
            add({ suite: SUITE, metric: `${label}, first`, unit: 'ms', mailfleet: pick(mf, 0), ...(dv ? { anchor: pick(an, 0) } : {}), better: 'lower', note: r.label.startsWith('SELECT') ? 'folder not yet open in the server' : hits });
            const again = r.label.startsWith('SELECT') ? 'after UNSELECT, folder open' : r.note;
            add({ suite: SUITE, metric: `${label}, again`, unit: 'ms', mailfleet: pick(mf, 1), ...(dv ? { anchor: pick(an, 1) } : {}), better: 'lower', note: [hits, again, errs].filter(Boolean).join('; ') });
          } else {
            add({ suite: SUITE, metric: label, unit: 'ms', mailfleet: pick(mf, 0), ...(dv ? { anchor: pick(an, 0) } : {}), better: 'lower', note: [hits, r.note, errs].filter(Boolean).join('; ') });
          }
          if (mf && an && !mf.error && !an.error && mf.results !== an.results) notes.push(`${r.command}: mailfleet found ${mf.results}, Dovecot ${an.results}.`);
        }
      } catch (err) {
        failed('SELECT + SEARCH', err);
      }
    }
    await node.stop();
    node = undefined;

    // ---- IDLE memory: a fresh node, then Dovecot
    log(`${idleSessions} IDLE sessions ...`);
    try {
      node = await startNodeChild(dir, usersFile, BENCH_NODE_LIMITS);
      const figures: Partial<Record<Side['name'], IdleFigures>> = {};
      for (const s of sides()) {
        log(`  ${s.name} ...`);
        figures[s.name] = await idleBench(s, idleUsers, idleSessions);
      }
      const per = (f: IdleFigures | undefined, k: 'rss' | 'pss'): number | null => (f ? (f.after[k] - f.before[k]) / f.sessions / 1024 : null);
      const mf = figures.mailfleet;
      const an = figures.dovecot;
      const desc = (f: IdleFigures | undefined): string => (f ? `${f.before.processes} → ${f.after.processes} processes, RSS ${(f.before.rss / MB).toFixed(0)} → ${(f.after.rss / MB).toFixed(0)} MiB, PSS ${(f.before.pss / MB).toFixed(0)} → ${(f.after.pss / MB).toFixed(0)} MiB, opened in ${fmtMs(f.openMs)}, ${f.notified}/${f.notifiable} saw a new message` : '-');
      add({ suite: SUITE, metric: `memory per idle IDLE session (${idleSessions} sessions), RSS`, unit: 'KiB', mailfleet: per(mf, 'rss'), ...(dv ? { anchor: per(an, 'rss') } : {}), better: 'lower', note: 'all processes of each server, summed VmRSS (shared pages counted per process)' });
      add({ suite: SUITE, metric: `memory per idle IDLE session (${idleSessions} sessions), PSS`, unit: 'KiB', mailfleet: per(mf, 'pss'), ...(dv ? { anchor: per(an, 'pss') } : {}), better: 'lower', note: 'all processes, proportional set size: shared pages divided among the processes' });
      notes.push(`IDLE: mailfleet ${desc(mf)}${dv ? `; Dovecot ${desc(an)}` : ''}.`);
      if (dv && an && an.notified < an.notifiable) {
        // Each Dovecot imap process needs an inotify instance of the mail user; past the kernel's limit it polls instead.
        const limit = (await readFile('/proc/sys/fs/inotify/max_user_instances', 'utf8').catch(() => '?')).trim();
        const warned = /Inotify instance limit/i.test(await readFile(join(dv.dir, 'dovecot.log'), 'utf8').catch(() => ''));
        notes.push(
          `Dovecot's IDLE push reached ${an.notified}/${an.notifiable} sessions within 5 s${warned ? `: its log says the inotify instance limit of the mail user was exceeded (fs.inotify.max_user_instances = ${limit} here, one per imap process), so the other sessions poll every mailbox_idle_check_interval (30 s); operators raise that sysctl, the bench leaves the machine as it is` : ''}.`,
        );
      }
    } catch (err) {
      failed('IDLE sessions', err);
    }
  } finally {
    await node?.stop();
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  notes.push(`The imap suite ran ${fmtMs(performance.now() - started)}.`);
  return { rows, notes, settings };
}
