/**
 * `npm run bench -- smtp`: the gateway's inbound path, printed as figures
 * (never pass/fail). 16 concurrent senders deliver 10 KB and 100 KB
 * messages to the gateway (`mailfleet run --role gateway`, a child
 * process); the gateway queues each one durably before its 250 and delivers
 * it over LMTP to the node — or, until the node's LMTP listener is merged,
 * to a durable LMTP sink (bench/smtp/child.ts: write + fsync before 250).
 *
 * Reported: accepted messages/s and the client's send → 250 latency
 * (p50/p99); delivered messages/s and 250 → delivered latency (sink only:
 * it timestamps each delivery); the queue's fsyncs per message (group
 * commit at work); and, in the same run on the same filesystem, the
 * storage's fsync rate — the physical floor durable acknowledgement sits on.
 *
 * Bounded in count and time: BENCH_SMTP_10K (default 3000 messages),
 * BENCH_SMTP_100K (800), each phase stops after BENCH_SMTP_SECONDS (60).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeUsers } from '../imap/corpus';
import { BenchSession } from './client';

const ROOT = resolve(__dirname, '../..');
const SENDERS = 16;

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number): string => (Number.isNaN(x) ? '–' : `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`);

interface Child {
  child: ChildProcess;
  ready: Record<string, unknown>;
  lines: (onLine: (line: string) => void) => void;
  stop(): Promise<void>;
}

/** Spawns a process and waits (bounded) for its `{"ready":true…}` line. */
async function spawnReady(args: string[], timeoutMs = 60_000): Promise<Child> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_') && k !== 'VITEST')),
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const listeners: ((line: string) => void)[] = [];
  let pending = '';
  let resolveReady!: (v: Record<string, unknown>) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<Record<string, unknown>>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  let isReady = false;
  child.stdout?.on('data', (d: Buffer) => {
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) {
      if (!isReady && line.startsWith('{"ready":true')) {
        isReady = true;
        resolveReady(JSON.parse(line) as Record<string, unknown>);
      } else for (const l of listeners) l(line);
    }
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
    lines: (f) => listeners.push(f),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const k = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(k);
    },
  };
}

/** Single-threaded write(10 KB) + fsync of new files for `seconds` on the storage's filesystem. */
async function fsyncRate(dir: string, seconds = 2): Promise<number> {
  const data = Buffer.alloc(10 * 1024, 'x');
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000 && n < 1_000_000) {
    const fh = await open(join(dir, `f${n}`), 'w');
    await fh.write(data);
    await fh.sync();
    await fh.close();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/** A message of about `bytes` octets with a unique Message-ID; CRLF lines of 76 characters, dot-stuffed already (none start with a dot). */
function makeMessage(id: string, bytes: number): Buffer {
  const head = `From: <bench-sender@example.net>\r\nTo: <alice@example.com>\r\nSubject: bench ${id}\r\nMessage-ID: <${id}@bench.example.net>\r\n\r\n`;
  const line = `${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3).slice(0, 76)}\r\n`;
  return Buffer.from(head + line.repeat(Math.max(1, Math.round((bytes - head.length) / line.length))));
}

async function metric(healthPort: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

interface PhaseResult {
  label: string;
  sent: number;
  accepted: number;
  refused: string[];
  seconds: number;
  acceptLatency: number[];
  deliveredSeconds: number | undefined;
  delivered: number;
  deliverLatency: number[];
  fsyncsPerMessage: { file: number; dir: number; commits: number };
}

async function phase(
  label: string,
  bytes: number,
  count: number,
  maxSeconds: number,
  gw: { smtpPort: number; healthPort: number },
  delivered: Map<string, number> | undefined,
  deliveredCount: () => Promise<number>,
): Promise<PhaseResult> {
  const before = {
    file: await metric(gw.healthPort, 'mailfleet_queue_fsyncs', 'kind="file"'),
    dir: await metric(gw.healthPort, 'mailfleet_queue_fsyncs', 'kind="dir"'),
    commits: await metric(gw.healthPort, 'mailfleet_queue_fsyncs', 'kind="commit"'),
    delivered: await deliveredCount(),
  };
  const sessions = await Promise.all(Array.from({ length: SENDERS }, () => BenchSession.open(gw.smtpPort)));
  const acceptedAt = new Map<string, number>();
  const latency: number[] = [];
  const refused: string[] = [];
  let next = 0;
  const start = performance.now();
  const deadline = start + maxSeconds * 1000;
  await Promise.all(
    sessions.map(async (s) => {
      for (let i = next++; i < count && performance.now() < deadline; i = next++) {
        const id = `${label}-${i}-${process.pid}`;
        const msg = makeMessage(id, bytes);
        const t0 = performance.now();
        const reply = await s.send('bench-sender@example.net', 'alice@example.com', msg);
        const t1 = performance.now();
        if (reply.startsWith('250')) {
          latency.push(t1 - t0);
          acceptedAt.set(`<${id}@bench.example.net>`, performance.timeOrigin + t1);
        } else if (refused.length < 5) refused.push(reply);
        else refused.push('');
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const s of sessions) s.close();
  // Wait (bounded) until everything accepted was delivered.
  const drainDeadline = performance.now() + 120_000;
  let done = 0;
  while (performance.now() < drainDeadline) {
    done = (await deliveredCount()) - before.delivered;
    if (done >= acceptedAt.size) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const deliverLatency: number[] = [];
  let lastDelivery = 0;
  if (delivered) {
    for (const [id, at] of acceptedAt) {
      const d = delivered.get(id);
      if (d !== undefined) {
        deliverLatency.push(d - at);
        lastDelivery = Math.max(lastDelivery, d);
      }
    }
  }
  const n = Math.max(1, acceptedAt.size);
  return {
    label,
    sent: Math.min(next, count),
    accepted: acceptedAt.size,
    refused: refused.filter(Boolean),
    seconds,
    acceptLatency: latency,
    deliveredSeconds: delivered && lastDelivery ? (lastDelivery - (performance.timeOrigin + start)) / 1000 : undefined,
    delivered: done,
    deliverLatency,
    fsyncsPerMessage: {
      file: ((await metric(gw.healthPort, 'mailfleet_queue_fsyncs', 'kind="file"')) - before.file) / n,
      dir: ((await metric(gw.healthPort, 'mailfleet_queue_fsyncs', 'kind="dir"')) - before.dir) / n,
      commits: ((await metric(gw.healthPort, 'mailfleet_queue_fsyncs', 'kind="commit"')) - before.commits) / n,
    },
  };
}

export async function runSmtpBench(): Promise<void> {
  const count10k = envInt('BENCH_SMTP_10K', 3000);
  const count100k = envInt('BENCH_SMTP_100K', 800);
  const maxSeconds = envInt('BENCH_SMTP_SECONDS', 60);
  const dir = await mkdtemp(join(tmpdir(), 'mf-bench-smtp-'));
  const children: Child[] = [];
  try {
    log('smtp: measuring the storage fsync rate …');
    const floorDir = join(dir, 'fsync-floor');
    await mkdir(floorDir);
    const floor = await fsyncRate(floorDir);
    await rm(floorDir, { recursive: true, force: true });

    const usersFile = join(dir, 'users.yaml');
    await writeUsers(usersFile, [{ address: 'alice@example.com', password: 'bench-pw', scrypt: { N: 1024, r: 8, p: 1 } }]);

    // The node, if its LMTP listener reports a port; else the durable sink.
    const any = { host: '127.0.0.1', port: 0 };
    await writeFile(
      join(dir, 'node.json'),
      JSON.stringify({ role: 'node', memberId: 'bench-node-0', cluster: 'bench', management: any, storage: { path: join(dir, 'storage') }, listen: { imap: any, pop3: any, lmtp: any }, directory: { file: usersFile }, logLevel: 'warn' }),
    );
    const node = await spawnReady([join(ROOT, 'bin/mailfleet.js'), 'run', '--config', join(dir, 'node.json')]).catch(() => undefined);
    let lmtpPort = typeof node?.ready.lmtpPort === 'number' ? node.ready.lmtpPort : undefined;
    let target = 'node (LMTP → store)';
    let delivered: Map<string, number> | undefined;
    if (node) children.push(node);
    if (lmtpPort === undefined) {
      const sink = await spawnReady(['--import', 'tsx', join(__dirname, 'child.ts'), join(dir, 'sink')]);
      children.push(sink);
      lmtpPort = sink.ready.port as number;
      target = 'LMTP sink (write + fsync per message; the node has no LMTP listener yet)';
      delivered = new Map();
      const d = delivered;
      sink.lines((line) => {
        const m = JSON.parse(line) as { d?: string; t: number };
        if (m.d) d.set(m.d, m.t);
      });
    }
    await writeFile(
      join(dir, 'gateway.json'),
      JSON.stringify({
        role: 'gateway',
        memberId: 'bench-gateway-0',
        cluster: 'bench',
        hostname: 'mx.bench',
        management: any,
        storage: { path: join(dir, 'storage') },
        listen: { smtp: any },
        hostedDomains: ['example.com'],
        directory: { file: usersFile },
        placement: { default: { memberId: 'bench-node-0', host: '127.0.0.1', port: lmtpPort } },
        // One client address sends everything here: lift the per-address bounds.
        inbound: { messagesPerAddressPerMinute: 100_000_000 },
        logLevel: 'warn',
      }),
    );
    const gateway = await spawnReady([join(ROOT, 'bin/mailfleet.js'), 'run', '--role', 'gateway', '--config', join(dir, 'gateway.json')]);
    children.push(gateway);
    const gw = { smtpPort: gateway.ready.smtpPort as number, healthPort: gateway.ready.healthPort as number };
    const deliveredCount = delivered ? async () => delivered.size : () => metric(gw.healthPort, 'mailfleet_queue_deliveries_total', 'status="delivered"');

    log(`smtp: ${SENDERS} senders → gateway → ${target}`);
    await phase('warmup', 10 * 1024, 200, 30, gw, delivered, deliveredCount);
    const results: PhaseResult[] = [];
    log(`smtp: 10 KB × ${count10k} …`);
    results.push(await phase('10KB', 10 * 1024, count10k, maxSeconds, gw, delivered, deliveredCount));
    log(`smtp: 100 KB × ${count100k} …`);
    results.push(await phase('100KB', 100 * 1024, count100k, maxSeconds, gw, delivered, deliveredCount));

    const out: string[] = [];
    out.push(`smtp: ${SENDERS} concurrent senders, gateway → ${target}; storage ${dir}`);
    out.push(`  storage fsync rate (write 10 KB + fsync, one thread, same filesystem): ${floor.toFixed(0)} durable writes/s`);
    for (const r of results) {
      const rate = r.accepted / r.seconds;
      out.push(`  ${r.label.padEnd(6)} accepted ${r.accepted}/${r.sent} in ${r.seconds.toFixed(1)} s: ${rate.toFixed(0)} msg/s (${((rate / floor) * 100).toFixed(0)}% of the fsync rate)`);
      out.push(`         send → 250 latency p50 ${ms(pct(r.acceptLatency, 50))}, p99 ${ms(pct(r.acceptLatency, 99))}`);
      if (r.deliveredSeconds !== undefined) {
        out.push(`         delivered ${r.delivered}: ${(r.delivered / r.deliveredSeconds).toFixed(0)} msg/s; 250 → delivered p50 ${ms(pct(r.deliverLatency, 50))}, p99 ${ms(pct(r.deliverLatency, 99))}, max ${ms(Math.max(...r.deliverLatency))}`);
      } else out.push(`         delivered ${r.delivered}`);
      out.push(`         queue fsyncs per message: ${r.fsyncsPerMessage.file.toFixed(2)} file + ${r.fsyncsPerMessage.dir.toFixed(2)} directory (${r.fsyncsPerMessage.commits.toFixed(2)} group commits)`);
      if (r.refused.length) out.push(`         refused: ${r.refused.join(' | ')}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
