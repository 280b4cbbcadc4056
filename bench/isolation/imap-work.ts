/**
 * IMAP work isolation: how fast a bystander's NOOP is answered while an
 * attacker session runs the most expensive IMAP commands we know of, on one
 * node process (issue 9: "no client can stall, starve or lock out the
 * others"; goal: every bystander NOOP answered within 100 ms).
 *
 * The node runs as a child process (`mail-runtime/node/main.ts`, as
 * `mailfleet node` runs it) on loopback with a temporary storage folder;
 * the attacker's INBOX holds `messages` messages (default 3,000, the size of
 * the folder the findings were made on). The bystander is another
 * user, so nothing but the event loop is shared. Its server RSS is read from
 * /proc/<pid>/status while each attack runs.
 *
 * `imapWorkIsolation()` returns figures and prints nothing; the
 * `npm run bench -- isolation` suite calls it. Run this file directly
 * (`npx tsx bench/isolation/imap-work.ts [scenario...]`) for a table.
 * Every loop is bounded in count and time: an attack that does not finish
 * within `attackTimeoutMs` is reported as a timeout and its connection cut.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScryptParams } from '../../mail-runtime/auth';
import { buildLargeFolder } from '../imap/build-folder';
import { startNodeChild, type NodeChild } from '../imap/child';
import { BenchClient } from '../imap/client';
import { writeUsers, type BenchUser } from '../imap/corpus';

/** Cheap scrypt: logins are not what is measured here. */
const CHEAP_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };
const MiB = 1024 * 1024;

/** The attacks, each the worst case of one finding (or one suspect) of issue 9. */
export const IMAP_WORK_SCENARIOS = {
  'search-16k-star': 'UID SEARCH with 16,000 × `1:*` criteria',
  'search-10k-set': 'SEARCH with one 10,000-number sequence set',
  'search-or-chain': 'SEARCH with a 2,000-deep OR chain of sequence sets',
  'search-text': 'SEARCH TEXT over every message body (honest but heavy)',
  'fetch-many-items': 'FETCH 1:* with 60 header-field items per message',
  'store-all': 'STORE 1:* +FLAGS then -FLAGS (two commands)',
  'move-all': 'MOVE 1:* to Trash, then back (the folder is as before afterwards)',
  'list-backtrack': 'LIST "*a*a*a*b" against 40 folder names of 200 × "a" (a backtracking matcher needs ~0.5 s per name)',
  'notify-flags': "STORE 1:* on one session, the other session of the same user is told at its NOOP (a FETCH per message)",
  'select-cold': 'the first SELECT of the folder on a fresh node (index loaded from disk)',
  'select-60mb-literal': 'SELECT {60000000+} followed by 60 MB, 8 sessions at once',
  'auth-20mb-line': '20 MB AUTHENTICATE continuation line, then NOOP (before login)',
  'parse-brackets': 'before login, 9 command lines of one 60,000-character atom of "[" (then BYE)',
} as const;

export type ImapWorkScenario = keyof typeof IMAP_WORK_SCENARIOS;

export interface ImapWorkIsolationOptions {
  /** Messages in the attacker's INBOX. Default 3000. */
  messages?: number;
  /** Which attacks to run. Default: all, in the order of IMAP_WORK_SCENARIOS. */
  scenarios?: readonly ImapWorkScenario[];
  /** An attack still running after this long is cut off. Default 60 s. */
  attackTimeoutMs?: number;
  /** Progress lines (set-up, each attack). Default: none. */
  log?: (line: string) => void;
}

export interface ImapWorkFigures {
  scenario: ImapWorkScenario;
  description: string;
  /** The attacker's tagged reply(s) or what ended it (`closed`, `timeout`). */
  attackerReply: string;
  /** Whether the attacker's connection still answered a NOOP afterwards (false when the server closed it, which may be right). */
  attackerUsableAfter: boolean;
  attackMs: number;
  /** NOOPs the bystander had answered while the attack ran (one outstanding at a time). */
  bystanderNoops: number;
  bystanderP50Ms: number;
  bystanderMaxMs: number;
  /** The server's RSS before the attack and the highest value seen while it ran. */
  rssBeforeMiB: number;
  rssPeakMiB: number;
  /** CPU time the server process used while the attack ran (user + system). */
  serverCpuMs: number;
  /** 1-minute load average of the machine when the attack ended: figures on a busy machine are slower. */
  loadAvg: number;
}

export interface ImapWorkIsolationResult {
  messages: number;
  cpus: number;
  node: string;
  /** The goal every bystanderMaxMs is measured against. */
  goalMs: number;
  scenarios: ImapWorkFigures[];
}

const ATTACKER: BenchUser = { address: 'attacker@isolation.test', password: 'attacker password', scrypt: CHEAP_SCRYPT };
const BYSTANDER: BenchUser = { address: 'bystander@isolation.test', password: 'bystander password', scrypt: CHEAP_SCRYPT };

interface Attack {
  /** Resolves with the outcome once the attack is over (or cut off). */
  run(port: number, deadline: number): Promise<{ reply: string; usableAfter: boolean }>;
  /** Do not open the folder before the attack (the attack measures the first open). */
  cold?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Writes `bytes` octets of `fill` (1 MiB at a time, waiting for the socket
 * to drain) until done, the deadline, or the server closes the connection.
 */
async function stream(c: BenchClient, bytes: number, fill: number, deadline: number): Promise<void> {
  const chunk = Buffer.alloc(MiB, fill);
  let closed = c.socket.destroyed;
  const onClose = (): void => {
    closed = true;
  };
  c.socket.once('close', onClose);
  try {
    for (let sent = 0; sent < bytes && !closed && Date.now() < deadline; sent += chunk.length) {
      if (c.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)))) continue;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          c.socket.off('drain', done);
          c.socket.off('close', done);
          resolve();
        };
        const t = setTimeout(done, Math.max(1, deadline - Date.now()));
        c.socket.once('drain', done);
        c.socket.once('close', done);
      });
    }
  } finally {
    c.socket.off('close', onClose);
  }
}

async function loggedIn(port: number, user: BenchUser, select = false): Promise<BenchClient> {
  const c = await BenchClient.connect(port);
  await c.login(user.address, user.password);
  if (select) await c.ok('SELECT INBOX');
  return c;
}

/** The tagged reply of `tag`, or `closed`/`timeout`. */
async function tagged(c: BenchClient, tag: string, deadline: number): Promise<string> {
  try {
    return (await c.waitTagged(tag, Math.max(1, deadline - Date.now()), () => false)).tagged;
  } catch (err) {
    return /closed/.test((err as Error).message) ? 'closed' : 'timeout';
  }
}

/** Whether the connection still answers a NOOP (bounded). */
async function usable(c: BenchClient): Promise<boolean> {
  try {
    await c.ok('NOOP', 10_000);
    return true;
  } catch {
    return false;
  }
}

/** One command on a selected attacker session. */
function commandAttack(commands: readonly string[]): Attack {
  return {
    async run(port, deadline) {
      const c = await loggedIn(port, ATTACKER, true);
      try {
        const replies: string[] = [];
        for (const command of commands) {
          const tag = c.nextTag();
          c.write(`${tag} ${command}\r\n`);
          const r = await tagged(c, tag, deadline);
          replies.push(r.slice(0, 80));
          if (r === 'closed' || r === 'timeout') return { reply: replies.join(' | '), usableAfter: false };
        }
        return { reply: replies.length ? replies.join(' | ') : 'SELECT INBOX OK', usableAfter: await usable(c) };
      } finally {
        c.close();
      }
    },
  };
}

/** `SELECT {n+}` + n bytes on `sessions` connections at once. */
function literalAttack(bytes: number, sessions: number): Attack {
  return {
    async run(port, deadline) {
      const one = async (): Promise<{ reply: string; usableAfter: boolean }> => {
        const c = await loggedIn(port, ATTACKER);
        try {
          const tag = c.nextTag();
          c.write(`${tag} SELECT {${bytes}+}\r\n`);
          const reply = tagged(c, tag, deadline);
          await stream(c, bytes, 0x61, deadline);
          if (!c.socket.destroyed) c.write('\r\n');
          const r = await reply;
          return { reply: r.slice(0, 80), usableAfter: r !== 'closed' && r !== 'timeout' && (await usable(c)) };
        } finally {
          c.close();
        }
      };
      const all = await Promise.all(Array.from({ length: sessions }, one));
      const replies = [...new Set(all.map((a) => a.reply))];
      return { reply: `${sessions}× ${replies.join(' / ')}`, usableAfter: all.every((a) => a.usableAfter) };
    },
  };
}

/** AUTHENTICATE PLAIN, a `bytes`-long response line, then a NOOP pipelined behind it. */
function authLineAttack(bytes: number): Attack {
  return {
    async run(port, deadline) {
      const c = await BenchClient.connect(port);
      try {
        c.write('a1 AUTHENTICATE PLAIN\r\n');
        const cont = await c.readLine(Math.max(1, deadline - Date.now()));
        if (!cont.startsWith('+')) return { reply: `no continuation: ${cont}`, usableAfter: false };
        await stream(c, bytes, 0x41, deadline);
        c.write('\r\na2 NOOP\r\n');
        const r1 = await tagged(c, 'a1', deadline);
        // In sync: a2 is read as a command and answered OK; desynchronised, it is eaten as the SASL response.
        const r2 = await tagged(c, 'a2', Math.min(deadline, Date.now() + 10_000));
        return { reply: `a1 ${r1.slice(0, 60)} | a2 ${r2.slice(0, 40)}`, usableAfter: r2.startsWith('OK') };
      } finally {
        c.close();
      }
    },
  };
}

function buildAttacks(messages: number): Record<ImapWorkScenario, Attack> {
  const headerItems = Array.from({ length: 60 }, (_, i) => `BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT X-${i})]`).join(' ');
  const tenK = Array.from({ length: 10_000 }, (_, i) => String((i % messages) + 1)).join(',');
  const orChain = `${'OR '.repeat(2000)}${Array.from({ length: 2001 }, (_, i) => String((i % messages) + 1)).join(' ')}`;
  const longName = 'a'.repeat(200);
  const listPattern = `${'*a'.repeat(3)}*b`;
  return {
    'search-16k-star': commandAttack([`UID SEARCH ${Array.from({ length: 16_000 }, () => '1:*').join(' ')}`]),
    'search-10k-set': commandAttack([`SEARCH ${tenK}`]),
    'search-or-chain': commandAttack([`SEARCH ${orChain}`]),
    'search-text': commandAttack(['SEARCH TEXT "no such words anywhere"']),
    'fetch-many-items': commandAttack([`FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE ${headerItems})`]),
    'store-all': commandAttack(['STORE 1:* +FLAGS.SILENT (\\Flagged $Bench)', 'STORE 1:* -FLAGS.SILENT (\\Flagged $Bench)']),
    'move-all': commandAttack(['MOVE 1:* Trash', 'SELECT Trash', 'MOVE 1:* INBOX', 'SELECT INBOX']),
    'list-backtrack': {
      async run(port, deadline) {
        const c = await loggedIn(port, ATTACKER);
        try {
          // Set-up (not timed by the caller's attack clock: cheap CREATEs).
          for (let i = 0; i < 40; i++) await c.ok(`CREATE "${longName}${i}"`).catch(() => undefined);
          const tag = c.nextTag();
          c.write(`${tag} LIST "" "${listPattern}"\r\n`);
          const r = await tagged(c, tag, deadline);
          return { reply: r.slice(0, 80), usableAfter: r !== 'closed' && r !== 'timeout' && (await usable(c)) };
        } finally {
          c.close();
        }
      },
    },
    'notify-flags': {
      async run(port, deadline) {
        const a = await loggedIn(port, ATTACKER, true);
        const b = await loggedIn(port, ATTACKER, true);
        try {
          const replies: string[] = [];
          for (const [c, command] of [
            [a, 'STORE 1:* +FLAGS.SILENT (\\Flagged)'],
            [b, 'NOOP'],
            [a, 'STORE 1:* -FLAGS.SILENT (\\Flagged)'],
            [b, 'NOOP'],
          ] as const) {
            const tag = c.nextTag();
            c.write(`${tag} ${command}\r\n`);
            replies.push((await tagged(c, tag, deadline)).slice(0, 40));
          }
          return { reply: replies.join(' | '), usableAfter: await usable(b) };
        } finally {
          a.close();
          b.close();
        }
      },
    },
    'select-cold': { ...commandAttack([]), cold: true },
    'select-60mb-literal': literalAttack(60_000_000, 8),
    'auth-20mb-line': authLineAttack(20 * MiB),
    'parse-brackets': {
      async run(port, deadline) {
        const c = await BenchClient.connect(port);
        try {
          const replies: string[] = [];
          // Nine bad commands: the tenth would end the session (LIMITS.imapBadCommandsBeforeBye).
          for (let i = 0; i < 9; i++) {
            const tag = c.nextTag();
            c.write(`${tag} FETCH 1 x${'['.repeat(60_000)}\r\n`);
            replies.push(await tagged(c, tag, deadline));
          }
          return { reply: [...new Set(replies.map((r) => r.slice(0, 60)))].join(' / '), usableAfter: await usable(c) };
        } finally {
          c.close();
        }
      },
    },
  };
}

/** Bystander: NOOP after NOOP (one outstanding), latencies recorded until `stop()`. */
function bystander(c: BenchClient): { stop(): Promise<number[]> } {
  let running = true;
  const latencies: number[] = [];
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const tag = c.nextTag();
      c.write(`${tag} NOOP\r\n`);
      try {
        await c.waitTagged(tag, 120_000, () => false);
      } finally {
        // A NOOP that never came back still counts, with the time it waited.
        latencies.push(performance.now() - t);
      }
      await sleep(2);
    }
  })().catch(() => undefined);
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
  };
}

/** RSS sampler: the highest value seen until `stop()`. */
function rssSampler(node: NodeChild): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await node.rss().catch(() => 0));
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** User + system CPU time of a process so far, from /proc/<pid>/stat (Linux; clock ticks of 10 ms). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10 || 0;
}

const quantile = (xs: number[], q: number): number => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/**
 * Runs each attack against a fresh child node process (so one attack's
 * damage cannot colour the next figure) and measures the bystander.
 */
export async function imapWorkIsolation(opts: ImapWorkIsolationOptions = {}): Promise<ImapWorkIsolationResult> {
  const messages = opts.messages ?? 3000;
  const attackTimeoutMs = opts.attackTimeoutMs ?? 60_000;
  const log = opts.log ?? (() => undefined);
  const wanted = opts.scenarios ?? (Object.keys(IMAP_WORK_SCENARIOS) as ImapWorkScenario[]);
  const attacks = buildAttacks(messages);
  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-bench-isolation-'));
  const out: ImapWorkFigures[] = [];
  try {
    const usersFile = join(dir, 'users.yaml');
    await writeUsers(usersFile, [ATTACKER, BYSTANDER]);
    log(`imap-work: building a ${messages}-message INBOX`);
    const built0 = performance.now();
    const storage = join(dir, 'storage');
    await buildLargeFolder(storage, ATTACKER.address, messages, log);
    log(`imap-work: folder built in ${((performance.now() - built0) / 1000).toFixed(1)} s`);
    for (const scenario of wanted) {
      const s0 = performance.now();
      const node = await startNodeChild(dir, usersFile);
      const startS = (performance.now() - s0) / 1000;
      try {
        const by = await loggedIn(node.imapPort, BYSTANDER);
        // Warm the attacker's folder (index loaded) so the attack measures the command, not the first open.
        if (!attacks[scenario].cold) {
          const warm = await loggedIn(node.imapPort, ATTACKER, true);
          warm.close();
        }
        const rssBefore = await node.rss();
        const cpuBefore = await cpuMsOf(node.pid);
        log(`imap-work: ${scenario}`);
        const sampler = rssSampler(node);
        const noops = bystander(by);
        const t = performance.now();
        const deadline = Date.now() + attackTimeoutMs;
        const result = await attacks[scenario].run(node.imapPort, deadline).catch((err: unknown) => ({ reply: `error: ${(err as Error).message}`, usableAfter: false }));
        const attackMs = performance.now() - t;
        const serverCpuMs = (await cpuMsOf(node.pid)) - cpuBefore;
        const latencies = await noops.stop();
        const peak = await sampler.stop();
        by.close();
        out.push({
          scenario,
          description: IMAP_WORK_SCENARIOS[scenario],
          attackerReply: result.reply,
          attackerUsableAfter: result.usableAfter,
          attackMs: Math.round(attackMs),
          bystanderNoops: latencies.length,
          bystanderP50Ms: Math.round(quantile(latencies, 0.5) * 10) / 10,
          bystanderMaxMs: Math.round(Math.max(0, ...latencies) * 10) / 10,
          rssBeforeMiB: Math.round(rssBefore / MiB),
          rssPeakMiB: Math.round(Math.max(peak, rssBefore) / MiB),
          serverCpuMs,
          loadAvg: Math.round(loadavg()[0] * 10) / 10,
        });
      } finally {
        await node.stop();
      }
      log(`imap-work: ${scenario} took ${((performance.now() - s0) / 1000).toFixed(1)} s (node start ${startS.toFixed(1)} s)`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { messages, cpus: cpus().length, node: process.version, goalMs: 100, scenarios: out };
}

/** A table of the figures, for running this file directly. */
export function formatImapWorkIsolation(r: ImapWorkIsolationResult): string {
  const lines = [`imap-work isolation: ${r.messages}-message folder, ${r.cpus} CPU(s), Node ${r.node}; goal: bystander NOOP < ${r.goalMs} ms`];
  for (const s of r.scenarios) {
    const verdict = s.bystanderMaxMs < r.goalMs ? 'ok' : 'OVER GOAL';
    lines.push(
      `  ${s.scenario.padEnd(20)} attack ${String(s.attackMs).padStart(6)} ms  NOOP max ${String(s.bystanderMaxMs).padStart(7)} ms p50 ${String(s.bystanderP50Ms).padStart(5)} ms (${s.bystanderNoops})  ` +
        `rss ${s.rssBeforeMiB}→${s.rssPeakMiB} MiB  cpu ${s.serverCpuMs} ms  load ${s.loadAvg}  ${verdict}`,
      `  ${''.padEnd(20)} ${s.description}; reply: ${s.attackerReply}; attacker usable after: ${s.attackerUsableAfter}`,
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  const names = process.argv.slice(2) as ImapWorkScenario[];
  const unknown = names.filter((n) => !(n in IMAP_WORK_SCENARIOS));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(IMAP_WORK_SCENARIOS).join(', ')}\n`);
    process.exit(2);
  }
  const messages = Number(process.env.BENCH_ISOLATION_MESSAGES) || undefined;
  imapWorkIsolation({ scenarios: names.length ? names : undefined, messages, log: (l) => process.stderr.write(`${l}\n`) })
    .then((r) => process.stdout.write(`${formatImapWorkIsolation(r)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    });
}
