/**
 * `npm run bench -- isolation`: can one client stall, starve or lock out
 * the others (issue 9)? A node runs as an operator runs it (`mailfleet run
 * --config`, loopback, temporary storage); hostile clients play many source
 * addresses by binding to 127.x.y.z (Linux routes all of 127/8 to `lo`). For
 * every attack it prints the NOOP latency of a bystander session (goal:
 * under 100 ms) and, for the login floods, a real user's login latency
 * against the unloaded one (goal: under 2×). Figures only, never pass/fail;
 * every attack is bounded in count and time.
 *
 * The node runs with `limits.perAddressExempt: []`: by default loopback
 * peers are not counted per address (they are this host's own processes),
 * and here loopback plays the internet.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCRYPT, type ScryptParams } from '../../mail-runtime/auth';
import { writeUsers, type BenchUser } from '../imap/corpus';
import { startMember, type BenchMember } from './member';
import { Bystander, timedLogin } from './probe';
import {
  connectionFlood,
  fmtMs,
  lockout,
  preLoginKeepalive,
  tlsStall,
  unknownUserFlood,
  wrongPasswordFlood,
  type IsolationContext,
  type IsolationRow,
  type IsolationScenario,
} from './scenarios';
import { addr } from './wire';
import { isolationResult } from './results';
import type { SuiteResult } from '../report';
import { imapWorkIsolation } from './imap-work';

/** The IMAP per-command work attacks run against their own node (a 3,000-message folder); one row each. */
const imapWork: IsolationScenario = async (ctx) => {
  const r = await imapWorkIsolation({ log: ctx.log });
  return r.scenarios.map((f) => ({
    section: `imap work: ${f.scenario}`,
    metric: 'bystander NOOP p50 / max',
    value: `${fmtMs(f.bystanderP50Ms)} / ${fmtMs(f.bystanderMaxMs)}`,
    note: `${f.attackerReply.replace(/\s+/g, ' ').slice(0, 48)}; RSS ${f.rssBeforeMiB} → ${f.rssPeakMiB} MiB; load ${f.loadAvg.toFixed(1)}`,
  }));
};

/**
 * The attacks, in order. Each is an IsolationScenario: it gets the same
 * context (node, bystander, users) and returns its rows. The IMAP
 * per-command work attacks (bench/isolation/imap-work.ts,
 * `imapWorkIsolation`) join as one more entry here.
 */
const SCENARIOS: IsolationScenario[] = [unknownUserFlood, wrongPasswordFlood, lockout, connectionFlood, tlsStall, imapWork];

const CHEAP_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };
/** Long enough for the pre-login deadline to have passed whatever the other attacks took. */
const KEEPALIVE_WATCH_MS = 45_000;

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

function printTable(rows: IsolationRow[]): void {
  const w = [Math.max(...rows.map((r) => r.section.length)), Math.max(...rows.map((r) => r.metric.length)), Math.max(...rows.map((r) => r.value.length))];
  let last = '';
  const out = rows.map((r) => {
    const section = r.section === last ? '' : r.section;
    last = r.section;
    return `  ${section.padEnd(w[0])}  ${r.metric.padEnd(w[1])}  ${r.value.padStart(w[2])}${r.note ? `  ${r.note}` : ''}`;
  });
  process.stderr.write(`${out.join('\n')}\n`);
}

/** Prints the table as it goes (stderr) and returns it in the results format (bench/isolation/results.ts). */
export async function runIsolationBench(): Promise<SuiteResult> {
  const started = performance.now();
  process.stderr.write(`isolation: node as \`mailfleet run\` on loopback; attackers on 127.x.y.z; ${cpus().length} CPU(s), Node ${process.version}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-isolation-'));
  const usersFile = join(dir, 'users.yaml');
  const alice: BenchUser = { address: 'alice@bench.test', password: 'alice password', scrypt: DEFAULT_SCRYPT };
  const victim: BenchUser = { address: 'victim@bench.test', password: 'victim password', scrypt: DEFAULT_SCRYPT };
  const bystanderUser: BenchUser = { address: 'bystander@bench.test', password: 'bystander password', scrypt: CHEAP_SCRYPT };
  await writeUsers(usersFile, [alice, victim, bystanderUser]);
  const rows: IsolationRow[] = [];
  /** Where the suite's time went, section by section (bench/README.md "Run time"). */
  const sectionS: string[] = [];
  let member: BenchMember | undefined;
  let bystander: Bystander | undefined;
  try {
    member = await startMember(dir, usersFile, { perAddressExempt: [] });
    const keepalive = preLoginKeepalive(member.imapPort);
    bystander = await Bystander.open(member.imapPort, addr(1, 1), bystanderUser.address, bystanderUser.password);
    const ctx: IsolationContext = {
      member,
      bystander,
      alice: { ...alice, home: addr(2, 1) },
      victim: { ...victim, home: addr(3, 1) },
      log,
    };
    // Both have logged in from home before the attacks start.
    for (const who of [ctx.alice, ctx.victim]) {
      const r = await timedLogin(member.imapPort, who.home, who.address, who.password);
      if (!r.reply.startsWith('OK')) throw new Error(`${who.address} cannot log in: ${r.reply}`);
    }
    const quiet = await bystander.measure(new Promise((r) => setTimeout(r, 2000)));
    rows.push({ section: 'no attack', metric: 'bystander NOOP p50 / p99 / max', value: `${fmtMs(quiet.p50)} / ${fmtMs(quiet.p99)} / ${fmtMs(quiet.max)}`, note: `${quiet.n} NOOPs` });
    sectionS.push(`set-up ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const [i, scenario] of SCENARIOS.entries()) {
      const s0 = performance.now();
      try {
        rows.push(...(await scenario(ctx)));
      } catch (err) {
        rows.push({ section: scenario.name || 'scenario', metric: 'failed', value: '-', note: (err as Error).message.slice(0, 160) });
      }
      sectionS.push(`${scenario.name || `scenario ${i + 1}`} ${((performance.now() - s0) / 1000).toFixed(1)} s`);
    }
    const k0 = performance.now();
    rows.push(...(await keepalive.report(KEEPALIVE_WATCH_MS)));
    sectionS.push(`keep-alive wait ${((performance.now() - k0) / 1000).toFixed(1)} s`);
  } finally {
    bystander?.close();
    await member?.stop();
    await rm(dir, { recursive: true, force: true });
    if (rows.length) printTable(rows);
  }
  const result = isolationResult(rows);
  result.notes = [...(result.notes ?? []), `Node as \`mailfleet run\` on loopback, attackers on 127.x.y.z; goals: bystander NOOP < 100 ms, a real login under 2× its unloaded time. The suite ran ${fmtMs(performance.now() - started)}: ${sectionS.join(', ')}.`];
  return result;
}
export { isolationResult } from './results';
