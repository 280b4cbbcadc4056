import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashPassword } from '../../mail-runtime/auth';
import { EventLog } from '../../mail-runtime/failover';
import { parseRuntimeConfig } from '../../mail-runtime/config';
import { median, medianOfRounds, row, type SuiteResult } from '../report';

/**
 * `npm run bench -- pair` (issue 13), a figure, not a test: a failover pair
 * as real processes on loopback — the primary's `mailfleet run --role all`,
 * the failover controller with its default timing, and the standby started
 * by the controller through a stand-in Docker Engine API (bench-only; the
 * adapters' wire format is tested in test/failover/power). The cut is
 * SIGSTOP of the primary (frozen: ports open, no greeting), and the figure
 * is the time from the cut to the first successful IMAP LOGIN on the
 * standby; median of 3, beside the configured detection threshold and the
 * issue's goal.
 */

const BIN = resolve(__dirname, '..', '..', 'bin', 'mailfleet.js');
/**
 * Rounds (BENCH_PAIR_ROUNDS overrides). Kept at 3: a round is one freeze of
 * a fresh pair (≈ 27 s at load 14: primary and controller start, two probe
 * rounds, the failover itself ≈ 17 s); the controller's decision spreads by
 * < 0.6 s, the standby's start (the rest of the login figure) by seconds
 * with the machine's load, which a median of 3 still shows.
 */
const ROUNDS = envRounds(3);

function envRounds(fallback: number): number {
  const v = Number(process.env.BENCH_PAIR_ROUNDS);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}
const POLL_MS = 20;
/** Issue 13: a confirmed, fenced failover in under 30 s. */
const GOAL_MS = 30_000;
/** Bound on one round (a bound, not a measurement). */
const ROUND_BOUND_MS = 180_000;
const USER = { address: 'ann@example.com', password: 'bench-pw' };

interface Proc {
  child: ChildProcess;
  ready: Promise<Record<string, unknown>>;
}

function start(args: string[]): Proc {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_')));
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...env, MAILFLEET_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) if (line.startsWith('{"ready"')) res(JSON.parse(line) as Record<string, unknown>);
    });
    child.on('exit', (code) => rej(new Error(`exited ${code} before ready`)));
  });
  ready.catch(() => undefined);
  return { child, ready };
}

function stop(p: Proc | undefined): void {
  if (p && p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGCONT');
    p.child.kill('SIGKILL');
  }
}

/**
 * The three Engine API calls the Docker adapter makes (inspect, start,
 * stop), for two containers whose "running" is a real member process.
 */
async function engine(hooks: Record<string, (on: boolean) => void>): Promise<{ base: string; running: Record<string, boolean>; close(): Promise<void> }> {
  const running: Record<string, boolean> = Object.fromEntries(Object.keys(hooks).map((k) => [k, false]));
  const server = http.createServer((req, res) => {
    const m = /^\/v1\.\d+\/containers\/([^/]+)\/(json|start|stop)/.exec(req.url ?? '');
    const name = m ? decodeURIComponent(m[1]!) : '';
    if (!m || !(name in running)) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"No such container"}');
    if (m[2] === 'json') {
      const on = running[name]!;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ State: { Status: on ? 'running' : 'exited', Running: on } }));
    }
    const want = m[2] === 'start';
    if (running[name] === want) return void res.writeHead(304).end();
    running[name] = want;
    hooks[name]!(want);
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, running, close: () => new Promise((r) => server.close(() => r())) };
}

/** One LOGIN attempt: true on `a OK` (RFC 3501 §6.2.3), false on anything else or within 1 s. */
function imapLogin(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    let sent = false;
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      res(ok);
    };
    const t = setTimeout(() => done(false), 1000);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!sent && buf.includes('\r\n')) {
        sent = true;
        s.write(`a LOGIN "${USER.address}" "${USER.password}"\r\n`);
      }
      const m = /^a (OK|NO|BAD)/m.exec(buf);
      if (m) done(m[1] === 'OK');
    });
    s.on('error', () => done(false));
  });
}

function memberConfig(dir: string, storage: string, users: string, memberId: string): Record<string, unknown> {
  const l = { host: '127.0.0.1', port: 0 };
  return { role: 'all', memberId, cluster: 'bench-pair', site: memberId, management: l, storage: { path: storage }, plaintextAuth: 'always', listen: { http: l, smtp: l, imap: l, pop3: l, submission: l, lmtp: l }, hostedDomains: ['example.com'], directory: { file: users }, filters: { authentication: { enabled: false } } };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function oneRound(round: number): Promise<{ ms: number; decidedMs: number; threshold: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-bench-pair-'));
  const storage = join(dir, 'storage');
  const users = join(dir, 'users.yaml');
  await writeFile(users, `users:\n  - address: ${USER.address}\n    password: "${await hashPassword(USER.password, { N: 1024, r: 8, p: 1 })}"\n`);
  const procs: Proc[] = [];
  const member = async (id: string): Promise<Proc> => {
    const file = join(dir, `${id}.json`);
    await writeFile(file, JSON.stringify(memberConfig(dir, storage, users, id)));
    const p = start(['run', '--role', 'all', '--config', file]);
    procs.push(p);
    return p;
  };
  let standby: Promise<Proc> | undefined;
  let primary: Proc | undefined;
  const api = await engine({
    'pair-all-0': (on) => {
      if (!on) stop(primary);
    },
    'pair-all-1': (on) => {
      if (on) standby = member('pair-all-1');
    },
  });
  try {
    primary = await member('pair-all-0');
    const p = (await primary.ready) as { smtpPort: number; imapPort: number; healthPort: number };
    api.running['pair-all-0'] = true;
    // The controller's timing is the default of its config schema: the configured threshold.
    const ctlInput = {
      role: 'failover-controller',
      memberId: 'bench-pair-controller',
      cluster: 'bench-pair',
      site: 'standby',
      management: { host: '127.0.0.1', port: 0 },
      storage: { path: storage },
      mode: 'automatic',
      probes: { smtp: `127.0.0.1:${p.smtpPort}`, imap: `127.0.0.1:${p.imapPort}`, health: `http://127.0.0.1:${p.healthPort}/readyz` },
      primary: { memberId: 'pair-all-0', power: { kind: 'docker', endpoint: api.base, container: 'pair-all-0' } },
      standby: { memberId: 'pair-all-1', power: { kind: 'docker', endpoint: api.base, container: 'pair-all-1' } },
    };
    const ctlCfg = parseRuntimeConfig(ctlInput, 'bench controller config');
    if (ctlCfg.role !== 'failover-controller') throw new Error('unreachable');
    const threshold = `${ctlCfg.failureThreshold} failed rounds within ${ctlCfg.failureWindowMs} ms, a round every ${ctlCfg.probeIntervalMs} ms (probe timeout ${ctlCfg.probeTimeoutMs} ms)`;
    const ctlFile = join(dir, 'controller.json');
    await writeFile(ctlFile, JSON.stringify(ctlInput));
    const ctl = start(['run', '--role', 'failover-controller', '--config', ctlFile]);
    procs.push(ctl);
    const health = (await ctl.ready).healthPort as number;
    const deadline = Date.now() + ROUND_BOUND_MS;
    while ((await metric(health, 'mailfleet_failover_probe_rounds_total')) < 2) {
      if (Date.now() > deadline) throw new Error('the controller never probed');
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = performance.now();
    const cutAt = Date.now();
    primary.child.kill('SIGSTOP');
    for (;;) {
      if (Date.now() > deadline) throw new Error('the standby never served an IMAP login');
      if (standby) {
        const sb = (await (await standby).ready.catch(() => undefined)) as { imapPort?: number } | undefined;
        if (sb?.imapPort && (await imapLogin(sb.imapPort))) break;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const ms = Math.round(performance.now() - t0);
    // When the controller had fenced and started the standby (its event is written then): the rest is the standby's own start.
    const ev = (await new EventLog(storage).read()).find((e) => e.kind === 'failover');
    const decidedMs = ev ? Date.parse(ev.at) - cutAt : -1;
    process.stderr.write(`bench pair: round ${round + 1}: ${ms} ms (failover event after ${decidedMs} ms)\n`);
    return { ms, decidedMs, threshold };
  } finally {
    procs.forEach(stop);
    if (standby) stop(await standby);
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const spread = (xs: number[]): number => Math.round(Math.max(...xs) - Math.min(...xs));

export async function runPairBench(): Promise<SuiteResult> {
  const { runs, median: loginMs } = await medianOfRounds(ROUNDS, oneRound, (r) => r.ms);
  return {
    rows: [
      row({
        suite: 'pair',
        metric: `primary frozen (SIGSTOP) → first IMAP LOGIN on the standby, median of ${ROUNDS}`,
        unit: 'ms',
        mailfleet: loginMs,
        better: 'lower',
        note: `rounds ${runs.map((r) => r.ms).join(', ')} ms (spread ${spread(runs.map((r) => r.ms))} ms); goal ${GOAL_MS} ms (${loginMs <= GOAL_MS ? 'met' : 'MISSED'})`,
      }),
      row({
        suite: 'pair',
        metric: `primary frozen → failover recorded (confirmed, fenced, standby started by its platform), median of ${ROUNDS}`,
        unit: 'ms',
        mailfleet: median(runs.map((r) => r.decidedMs)),
        better: 'lower',
        note: `rounds ${runs.map((r) => r.decidedMs).join(', ')} ms (spread ${spread(runs.map((r) => r.decidedMs))} ms); the rest of the first row is the standby process starting`,
      }),
    ],
    notes: [
      `Loopback, real processes: the cut is SIGSTOP of the primary member; the controller fences it and starts the standby through a stand-in Docker Engine API.`,
      `Configured threshold (controller defaults): ${runs[0]!.threshold}; the member's site lease TTL is its default.`,
    ],
    settings: ['controller and member timing: schema defaults'],
  };
}
