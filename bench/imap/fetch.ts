import { readFile } from 'node:fs/promises';
import { BenchClient } from './client';
import { largeMessage, type BenchUser } from './corpus';

/** Commands in flight while appending (each acknowledged only once durable). */
const APPEND_WINDOW = 32;
/** Messages per MULTIAPPEND command (RFC 3502), when both servers offer it. */
const MULTIAPPEND_BATCH = 32;

export interface AppendedCorpus {
  client: BenchClient;
  messages: number;
  bytes: number;
  appendMs: number;
  mode: 'multiappend' | 'append';
}

/** CAPABILITY after login (servers may add some once authenticated, as Dovecot does with MULTIAPPEND). */
export async function capabilitiesAfterLogin(port: number, user: BenchUser): Promise<string[]> {
  const c = await BenchClient.connect(port);
  try {
    await c.login(user.address, user.password);
    const r = await c.ok('CAPABILITY');
    const line = r.lines.find((l) => l.startsWith('* CAPABILITY ')) ?? '';
    await c.logout();
    return line.slice('* CAPABILITY '.length).toUpperCase().split(' ');
  } finally {
    c.close();
  }
}

/**
 * Fills the user's INBOX with `count` 20–50 KB messages over IMAP: APPEND
 * with LITERAL+ `{n+}` (RFC 7888), a window of commands in flight, or
 * MULTIAPPEND batches (RFC 3502) when `multiappend` (only when both servers
 * compared advertise it). Each is acknowledged only once durable. Returns
 * the logged-in connection for the FETCH rounds.
 */
export async function appendCorpus(port: number, user: BenchUser, count: number, multiappend: boolean): Promise<AppendedCorpus> {
  const c = await BenchClient.connect(port);
  try {
    await c.login(user.address, user.password);
    const messages = Array.from({ length: count }, (_, i) => largeMessage(i));
    const bytes = messages.reduce((n, m) => n + m.length, 0);
    const inFlight: string[] = [];
    const t0 = performance.now();
    if (multiappend) {
      for (let i = 0; i < count; i += MULTIAPPEND_BATCH) {
        const tag = c.nextTag();
        const batch = messages.slice(i, i + MULTIAPPEND_BATCH);
        const parts: Buffer[] = [Buffer.from(`${tag} APPEND INBOX`)];
        for (const m of batch) parts.push(Buffer.from(` {${m.length}+}\r\n`), m);
        parts.push(Buffer.from('\r\n'));
        c.write(Buffer.concat(parts));
        inFlight.push(tag);
        if (inFlight.length >= 2) await expectOk(c, inFlight.shift() as string);
        await c.drained();
      }
    } else {
      for (let i = 0; i < count; i++) {
        const tag = c.nextTag();
        c.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${messages[i].length}+}\r\n`), messages[i], Buffer.from('\r\n')]));
        inFlight.push(tag);
        if (inFlight.length >= APPEND_WINDOW) await expectOk(c, inFlight.shift() as string);
        await c.drained();
      }
    }
    for (const tag of inFlight) await expectOk(c, tag);
    const appendMs = performance.now() - t0;
    const sel = await c.ok('EXAMINE INBOX');
    const exists = Number(/^\* (\d+) EXISTS$/m.exec(sel.lines.join('\n'))?.[1] ?? -1);
    if (exists !== count) throw new Error(`INBOX has ${exists} messages, expected ${count}`);
    return { client: c, messages: count, bytes, appendMs, mode: multiappend ? 'multiappend' : 'append' };
  } catch (err) {
    c.close();
    throw err;
  }
}

/**
 * Unmeasured FETCH rounds per side before the measured ones, taking turns
 * as the measured ones do. A fresh node's JavaScript is compiled and
 * re-optimised over its first rounds (V8 tiers functions up as they get
 * hot: `--trace-opt` showed 5–17 functions optimised per round until about
 * the seventh round, 150–300 ms of node CPU per cold round against 40–60 ms
 * warm); Dovecot's C has no such warm-up and is the same from its first
 * round. Both sides get the same rounds (bench/README.md "FETCH: batched
 * writes"), so both are compared in their steady state.
 */
export const FETCH_WARM_UP_ROUNDS = 6;
/** Measured FETCH rounds per side (best and median reported). */
export const FETCH_MEASURED_ROUNDS = 5;

/**
 * The FETCH rounds of every corpus, taking turns round by round (so a
 * change in the machine's load hits every side), the side that goes first
 * changing every round (neither always runs right after the other's
 * round): FETCH_WARM_UP_ROUNDS unmeasured, then FETCH_MEASURED_ROUNDS
 * measured, per side.
 */
export async function alternatingFetchRounds<K extends string>(corpora: ReadonlyArray<FetchSide<K>>): Promise<Partial<Record<K, FetchRoundFigures[]>>> {
  const turn = (r: number): ReadonlyArray<FetchSide<K>> => (r % 2 === 0 ? corpora : [...corpora].reverse());
  for (let r = 0; r < FETCH_WARM_UP_ROUNDS; r++) for (const c of turn(r)) await fetchRound(c.corpus);
  const rounds: Partial<Record<K, FetchRoundFigures[]>> = {};
  for (let r = 0; r < FETCH_MEASURED_ROUNDS; r++) {
    for (const c of turn(r)) {
      const pids = await c.serverPids();
      const cpu0 = await cpuMsOf(pids);
      const figures = await fetchRound(c.corpus);
      const cpu1 = await cpuMsOf(pids);
      (rounds[c.name] ??= []).push({ ...figures, serverCpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0 });
    }
  }
  return rounds;
}

/** One side of the FETCH rounds: its corpus and the processes serving it (for their CPU time). */
export interface FetchSide<K extends string> {
  name: K;
  corpus: AppendedCorpus;
  /** The server's processes (the node; Dovecot's master and every child), read before each measured round. */
  serverPids: () => Promise<number[]>;
}

/** CPU time (user + system, every thread) of `pids` from /proc, in ms; null where /proc cannot tell (not Linux). */
async function cpuMsOf(pids: readonly number[]): Promise<number | null> {
  const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile (a Dovecot login process): its time is lost either way
    }
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = Number(f[11]) + Number(f[12]);
    if (!Number.isFinite(t)) return null;
    ticks += t;
  }
  return pids.length ? ticks / ticksPerMs : null;
}

/** One FETCH round: wall-clock time and the bench client's own CPU time meanwhile. */
export interface FetchRoundFigures {
  ms: number;
  /**
   * CPU (user + system) the bench process spent in the round: the client
   * parses every literal, so a round where this is close to `ms` was bounded
   * by the client, not the server, and says little about the server.
   */
  clientCpuMs: number;
  /**
   * CPU the server spent in the round (all its threads and processes, from
   * /proc; 10 ms resolution), where known: less swayed by the machine's load
   * than the wall-clock time.
   */
  serverCpuMs?: number | null;
}

/** One `FETCH 1:* BODY.PEEK[]` on the corpus; checks every literal octet arrived. */
export async function fetchRound(corpus: AppendedCorpus): Promise<FetchRoundFigures> {
  const c = corpus.client;
  const before = c.literalBytes;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const res = await c.ok('FETCH 1:* BODY.PEEK[]', 120_000, () => false);
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  const got = c.literalBytes - before;
  if (got !== corpus.bytes || res.count < corpus.messages) throw new Error(`FETCH returned ${got} literal bytes in ${res.count} lines, expected ${corpus.bytes}`);
  return { ms, clientCpuMs: (cpu.user + cpu.system) / 1000 };
}

async function expectOk(c: BenchClient, tag: string): Promise<void> {
  const r = await c.waitTagged(tag, 60_000, () => false);
  if (!r.tagged.startsWith('OK')) throw new Error(`APPEND ${tag}: ${r.tagged}`);
}
