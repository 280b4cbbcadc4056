/**
 * `npm run bench -- smtp`: inbound SMTP, mailfleet beside the anchor, in
 * one run. 16 concurrent senders deliver 10 KB and 100 KB messages (one
 * recipient each, round-robin over 16 mailboxes) with the same driver
 * (bench/smtp-load `smtpLoad`) to
 * - mailfleet: the gateway (`mailfleet run --role gateway`), which queues
 *   each message durably before its 250 and delivers it over LMTP to the
 *   node (`mailfleet run --config`, a second process), whose IMAP shows it;
 * - the anchor: a private Postfix, which fsyncs its queue file before its
 *   250 and delivers over LMTP to a private Dovecot (fsync before its 250),
 *   whose IMAP shows it.
 * The same structure on both sides: durable 250 at the edge, then an LMTP
 * hop to the mailbox server. The sides take turns size by size (the order
 * flips for each size) so a change in the machine's load hits both.
 *
 * Rows: accepted messages/s, MAIL FROM → 250 latency p50/p99, MAIL FROM →
 * IMAP IDLE EXISTS (time to visible) p50/p99, memory of every process of
 * each side after the load; for mailfleet also the gateway queue's fsyncs
 * per message (group commit at work) and its rate against the storage's
 * fsync rate measured here, on the same filesystem, in the same run.
 *
 * Bounded in count and time: BENCH_SMTP_10K (default 2000 messages),
 * BENCH_SMTP_100K (2000), each side and size stops after BENCH_SMTP_SECONDS
 * (15) of sending; waiting for visibility is bounded too (30 s).
 * BENCH_SMTP_AUTH=0 turns the gateway's SPF/DKIM/DMARC checks off (Postfix
 * has none by default) to show what they cost.
 * BENCH_PROFILE_DIR=<dir> makes the gateway and the node write CPU profiles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { anchors, anchorSmtpTarget, POSTFIX_DEVIATIONS, treeMemory, type SmtpTarget } from '../anchors';
import { writeUsers } from '../imap/corpus';
import { row, type BenchRow, type SuiteResult } from '../report';
import { smtpLoad, smtpRows, type SmtpLoadFigures } from '../smtp-load';

const ROOT = resolve(__dirname, '../..');
const SUITE = 'smtp';
/** The sizes and concurrency issue 14 names: 10 KB and 100 KB, 16 concurrent senders. */
const SMTP_SIZES = [10 * 1024, 100 * 1024] as const;
const SMTP_SENDERS = 16;
/** One mailbox per sender, the same addresses and passwords on both sides. */
const SMTP_USERS = Array.from({ length: SMTP_SENDERS }, (_, i) => ({ address: `rcpt${String(i).padStart(2, '0')}@bench.test`, password: `rcpt password ${i}` }));
/** Logins of the IMAP watchers are not what this suite measures: a cheap scrypt (the anchor's side uses a cheap hash too). */
const WATCHER_SCRYPT = { N: 1024, r: 8, p: 1 };
/** Warm-up messages per side before the first measured size (JIT, connection pools, first queue segment, DNS cache). */
const WARMUP = 100;
const MiB = 1024 * 1024;

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

interface Child {
  child: ChildProcess;
  ready: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Spawns a process and waits (bounded) for its `{"ready":true…}` line. */
/** A member on a busy shared machine can take over a minute to compile its TypeScript and start (seen at load 32 on 2 cores). */
async function spawnReady(args: string[], timeoutMs = 240_000): Promise<Child> {
  // BENCH_PROFILE_DIR: each member writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_PROFILE_DIR)}`] : [];
  const child = spawn(process.execPath, [...profile, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_') && k !== 'VITEST')),
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let pending = '';
  let resolveReady!: (v: Record<string, unknown>) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<Record<string, unknown>>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  child.stdout?.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) if (line.startsWith('{"ready":true')) resolveReady(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('exit', (code) => rejectReady(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`)));
  const t = setTimeout(() => {
    child.kill('SIGKILL');
    rejectReady(new Error(`${args.join(' ')} not ready within ${timeoutMs} ms: ${stderr}`));
  }, timeoutMs);
  const r = await ready.finally(() => clearTimeout(t));
  return {
    child,
    ready: r,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const k = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(k);
    },
  };
}

/** Single-threaded write(10 KB) + fsync of new files for `ms` on the storage's filesystem (bounded in count too). */
async function fsyncRate(dir: string, ms = 2000): Promise<number> {
  const data = Buffer.alloc(10 * 1024, 'x');
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms && n < 1_000_000) {
    const fh = await open(join(dir, `f${n}`), 'w');
    await fh.write(data);
    await fh.sync();
    await fh.close();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/** The sum of a Prometheus counter's samples whose labels contain `labels`. */
async function metric(healthPort: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/**
 * mailfleet's side as an SmtpTarget: node (IMAP + LMTP) and gateway as two
 * member processes, as an operator runs them, on temporary storage.
 */
async function mailfleetSmtpTarget(dir: string): Promise<SmtpTarget & { healthPort: number }> {
  await mkdir(dir, { recursive: true });
  const usersFile = join(dir, 'users.yaml');
  await writeUsers(
    usersFile,
    SMTP_USERS.map((u) => ({ ...u, scrypt: WATCHER_SCRYPT })),
  );
  const any = { host: '127.0.0.1', port: 0 };
  const storage = { path: join(dir, 'storage') };
  await writeFile(
    join(dir, 'node.json'),
    JSON.stringify({ role: 'node', memberId: 'bench-node-0', cluster: 'bench', management: any, storage, listen: { imap: any, pop3: any, lmtp: any }, directory: { file: usersFile }, logLevel: 'warn' }),
  );
  const children: Child[] = [];
  try {
    const node = await spawnReady([join(ROOT, 'bin/mailfleet.js'), 'run', '--config', join(dir, 'node.json')]);
    children.push(node);
    const lmtpPort = node.ready.lmtpPort;
    const imapPort = node.ready.imapPort;
    if (typeof lmtpPort !== 'number' || typeof imapPort !== 'number') throw new Error(`the node reported no LMTP/IMAP port: ${JSON.stringify(node.ready)}`);
    await writeFile(
      join(dir, 'gateway.json'),
      JSON.stringify({
        role: 'gateway',
        memberId: 'bench-gateway-0',
        cluster: 'bench',
        hostname: 'mx.bench',
        management: any,
        storage,
        listen: { smtp: any },
        hostedDomains: ['bench.test'],
        directory: { file: usersFile },
        placement: { default: { memberId: 'bench-node-0', host: '127.0.0.1', port: lmtpPort } },
        // One client address sends everything here: lift the per-address message rate.
        inbound: { messagesPerAddressPerMinute: 100_000_000 },
        // SPF/DKIM/DMARC are on by default (the product as shipped); BENCH_SMTP_AUTH=0 turns them off to see what they cost.
        ...(process.env.BENCH_SMTP_AUTH === '0' ? { filters: { authentication: { enabled: false } } } : {}),
        logLevel: 'warn',
      }),
    );
    const gateway = await spawnReady([join(ROOT, 'bin/mailfleet.js'), 'run', '--role', 'gateway', '--config', join(dir, 'gateway.json')]);
    children.push(gateway);
    const sum = async () => {
      const parts = await Promise.all(children.map((c) => treeMemory(c.child.pid as number)));
      return parts.reduce((a, b) => ({ processes: a.processes + b.processes, rss: a.rss + b.rss, pss: a.pss + b.pss }), { processes: 0, rss: 0, pss: 0 });
    };
    return {
      name: 'gateway → node LMTP',
      host: '127.0.0.1',
      port: gateway.ready.smtpPort as number,
      domain: 'bench.test',
      users: SMTP_USERS,
      imapPort,
      healthPort: gateway.ready.healthPort as number,
      memory: sum,
      stop: async () => {
        for (const c of children.reverse()) await c.stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    throw err;
  }
}

const QUEUE_FSYNC_KINDS = ['file', 'dir', 'commit'] as const;
type QueueFsyncs = Record<(typeof QUEUE_FSYNC_KINDS)[number], number>;
async function queueFsyncs(healthPort: number): Promise<QueueFsyncs> {
  const [file, dir, commit] = await Promise.all(QUEUE_FSYNC_KINDS.map((k) => metric(healthPort, 'mailfleet_queue_fsyncs', `kind="${k}"`)));
  return { file, dir, commit };
}

const STAGES = ['mail-from', 'rcpt-to', 'data-receive', 'data-filters', 'data-queue'] as const;
type Stages = Record<(typeof STAGES)[number], { sum: number; count: number }>;
/** The gateway's `mailfleet_smtp_stage_seconds` histogram: seconds and observations per step of a transaction. */
async function stageTimes(healthPort: number): Promise<Stages> {
  const out = {} as Stages;
  for (const st of STAGES) {
    const [sum, count] = await Promise.all([metric(healthPort, 'mailfleet_smtp_stage_seconds_sum', `stage="${st}"`), metric(healthPort, 'mailfleet_smtp_stage_seconds_count', `stage="${st}"`)]);
    out[st] = { sum, count };
  }
  return out;
}
/** Mean milliseconds per step between two readings, as one line for the notes. */
function stageNote(before: Stages, after: Stages): string {
  return STAGES.map((st) => {
    const n = after[st].count - before[st].count;
    return `${st} ${n > 0 ? (((after[st].sum - before[st].sum) / n) * 1000).toFixed(1) : '–'} ms`;
  }).join(', ');
}

export async function runSmtpBench(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<SuiteResult> {
  const counts: Record<number, number> = { [10 * 1024]: envInt('BENCH_SMTP_10K', 2000), [100 * 1024]: envInt('BENCH_SMTP_100K', 2000) };
  // 15 s per side and size (issue 14: the whole `npm run bench` within 15 minutes): at ≥ 50 msg/s that is ≥ 750 messages,
  // enough for a p99; the sides still alternate, so a change in the machine's load hits both.
  const timeLimit = envInt('BENCH_SMTP_SECONDS', 15) * 1000;
  const dir = await mkdtemp(join(tmpdir(), 'mf-bench-smtp-'));
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const settings: string[] = [];
  const targets: SmtpTarget[] = [];
  try {
    log('smtp: measuring the storage fsync rate …');
    const floorDir = join(dir, 'fsync-floor');
    await mkdir(floorDir);
    const floor = await fsyncRate(floorDir);
    await rm(floorDir, { recursive: true, force: true });
    rows.push(row({ suite: SUITE, metric: 'storage fsync rate (write 10 KB + fsync, 1 thread)', unit: 'fsync/s', mailfleet: floor, note: 'same filesystem as both sides\' mail, measured just before the load' }));

    const mf = await mailfleetSmtpTarget(join(dir, 'mailfleet'));
    targets.push(mf);
    let anchor: SmtpTarget | undefined;
    const avail = anchors(log);
    if (!avail.available) notes.push(`Anchor not run: ${avail.reason}; mailfleet alone.`);
    else {
      try {
        anchor = await anchorSmtpTarget({ users: SMTP_USERS });
        targets.push(anchor);
        settings.push(...POSTFIX_DEVIATIONS.map((d) => `Postfix: ${d}`));
        settings.push(
          process.env.BENCH_SMTP_AUTH === '0'
            ? 'SMTP, not like the product as shipped: the gateway\'s SPF/DKIM/DMARC/ARC checks are off (BENCH_SMTP_AUTH=0), as Postfix has none by default.'
            : 'SMTP: the gateway checks SPF/DKIM/DMARC/ARC on every message (its default; DNS answers cached, the senders\' domain has no records here); Postfix checks none (its default: no policy service or milter). mailfleet does more work per message; BENCH_SMTP_AUTH=0 turns the checks off.',
        );
      } catch (err) {
        notes.push(`Anchor could not start: ${(err as Error).message.split('\n')[0]}; mailfleet alone.`);
      }
    }
    const load = (t: SmtpTarget, size: number, count: number): Promise<SmtpLoadFigures> =>
      smtpLoad({ host: t.host, port: t.port, messageSize: size, senders: SMTP_SENDERS, count, timeLimit, to: SMTP_USERS.map((u) => u.address), visible: { port: t.imapPort, users: t.users } });

    for (const t of targets) {
      log(`smtp: warm-up, ${t.name}, ${WARMUP} × 10 KB …`);
      await load(t, 10 * 1024, WARMUP);
    }
    for (const [i, size] of SMTP_SIZES.entries()) {
      const figures: { mailfleet?: SmtpLoadFigures; anchor?: SmtpLoadFigures } = {};
      const order = i % 2 === 0 ? targets : [...targets].reverse();
      let fsyncs: QueueFsyncs | undefined;
      for (const t of order) {
        log(`smtp: ${t.name}, ${size / 1024} KB × up to ${counts[size]} messages, ${SMTP_SENDERS} senders, ≤ ${timeLimit / 1000} s …`);
        const before = t === mf ? await queueFsyncs(mf.healthPort) : undefined;
        const stagesBefore = t === mf ? await stageTimes(mf.healthPort) : undefined;
        const f = await load(t, size, counts[size]);
        if (before) {
          const after = await queueFsyncs(mf.healthPort);
          const n = Math.max(1, f.accepted);
          fsyncs = { file: (after.file - before.file) / n, dir: (after.dir - before.dir) / n, commit: (after.commit - before.commit) / n };
        }
        if (stagesBefore) notes.push(`${t.name}, ${size / 1024} KB, mean time per step at the gateway: ${stageNote(stagesBefore, await stageTimes(mf.healthPort))}.`);
        if (t === mf) figures.mailfleet = f;
        else figures.anchor = f;
        notes.push(
          `${t.name}, ${size / 1024} KB: ${f.accepted} accepted, ${f.failed} refused in ${(f.ms / 1000).toFixed(1)} s; ${f.visibleMs?.n ?? 0} seen in IMAP${f.errors.length ? `; replies: ${f.errors.join(' | ')}` : ''}.`,
        );
      }
      rows.push(...smtpRows(SUITE, size, SMTP_SENDERS, anchor ? figures : { mailfleet: figures.mailfleet }));
      const kb = `${size / 1024} KB`;
      if (figures.mailfleet) {
        rows.push(
          row({
            suite: SUITE,
            metric: `messages accepted / storage fsync rate, ${kb}`,
            unit: '%',
            mailfleet: (figures.mailfleet.perSecond / floor) * 100,
            better: 'higher',
            note: 'goal: within 80% of what the fsync rate allows with group commit',
          }),
        );
      }
      if (fsyncs) {
        rows.push(
          row({
            suite: SUITE,
            metric: `gateway queue fsyncs per message, ${kb}`,
            unit: 'fsync/msg',
            mailfleet: fsyncs.file + fsyncs.dir,
            better: 'lower',
            note: `${fsyncs.file.toFixed(2)} file + ${fsyncs.dir.toFixed(2)} directory, ${fsyncs.commit.toFixed(2)} group commits per message (the node's fsyncs not counted)`,
          }),
        );
      }
    }
    const mem = await Promise.all(targets.map((t) => t.memory()));
    const memRow = (metric: string, pick: (m: { rss: number; pss: number }) => number, note: string): BenchRow =>
      row({ suite: SUITE, metric, unit: 'MiB', mailfleet: pick(mem[0]) / MiB, ...(anchor ? { anchor: mem[1] ? pick(mem[1]) / MiB : null } : {}), better: 'lower', note });
    rows.push(
      memRow('memory after the load, RSS', (m) => m.rss, `all processes: mailfleet ${mem[0].processes} (gateway + node)${mem[1] ? `, anchor ${mem[1].processes} (Postfix + Dovecot)` : ''}; shared pages counted per process`),
      memRow('memory after the load, PSS', (m) => m.pss, 'shared pages divided among the processes'),
    );
  } finally {
    for (const t of targets.reverse()) await t.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, notes, settings };
}
