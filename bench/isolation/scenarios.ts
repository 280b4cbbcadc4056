import type { Socket } from 'node:net';
import { median } from '../report';
import type { BenchMember } from './member';
import { timedLogin, type Bystander, type Latency } from './probe';
import { Wire, addr } from './wire';

export interface BenchAccount {
  address: string;
  password: string;
}

/** What every isolation scenario gets: a running node, its users and the bystander session. */
export interface IsolationContext {
  member: BenchMember;
  /** A logged-in session (INBOX selected) whose NOOP latency is the figure that matters. */
  bystander: Bystander;
  /** A user with the production scrypt cost, whose logins are timed; she has logged in from `alice.home` before. */
  alice: BenchAccount & { home: string };
  /** A user the attacks aim at (production scrypt cost); has logged in from `victim.home` before. */
  victim: BenchAccount & { home: string };
  log(line: string): void;
}

export interface IsolationRow {
  section: string;
  metric: string;
  value: string;
  note?: string;
}

/** An attack and what it reports; each is bounded in count and time. */
export type IsolationScenario = (ctx: IsolationContext) => Promise<IsolationRow[]>;

export const fmtMs = (ms: number): string => (Number.isNaN(ms) ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);

export function noopRow(section: string, l: Latency): IsolationRow {
  return {
    section,
    metric: 'bystander NOOP p50 / p99 / max',
    value: `${fmtMs(l.p50)} / ${fmtMs(l.p99)} / ${fmtMs(l.max)}`,
    note: `${l.n} NOOPs${l.failed ? `, ${l.failed} failed` : ''}; goal < 100 ms`,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How IMAP answered a login: the response code (or OK / error). */
function kind(reply: string): string {
  if (reply.startsWith('OK')) return 'OK';
  const code = /^NO \[([A-Z-]+)\]/.exec(reply);
  if (code) return `NO [${code[1]}]`;
  if (reply.startsWith('error')) return reply.includes('closed') ? 'closed' : 'error';
  return reply.slice(0, 20);
}

function tally(kinds: string[]): string {
  const m = new Map<string, number>();
  for (const k of kinds) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} ${k}`).join(', ');
}

async function loginSeries(ctx: IsolationContext, froms: string[], who: BenchAccount, gapMs = 0): Promise<{ ms: number[]; kinds: string[] }> {
  const ms: number[] = [];
  const kinds: string[] = [];
  for (const from of froms) {
    const r = await timedLogin(ctx.member.imapPort, from, who.address, who.password);
    kinds.push(kind(r.reply));
    if (r.reply.startsWith('OK')) ms.push(r.ms);
    if (gapMs) await sleep(gapMs);
  }
  return { ms, kinds };
}


/**
 * One wave of the login flood: `addresses` source addresses (127.block.x.y)
 * each making `perAddress` login attempts, all at once, each on its own
 * connection (so no per-connection limit interferes).
 */
async function floodWave(port: number, block: number, addresses: number, perAddress: number, user: (a: number, i: number) => BenchAccount): Promise<string[]> {
  const attempts: Promise<string>[] = [];
  for (let a = 1; a <= addresses; a++) {
    for (let i = 0; i < perAddress; i++) {
      const who = user(a, i);
      attempts.push(timedLogin(port, addr(block, a), who.address, who.password, 90_000).then((r) => kind(r.reply)));
    }
  }
  return Promise.all(attempts);
}

/**
 * Finding: 64 source addresses × 8 unknown-user LOGINs (each address under
 * its failure limit) pushed a real login from 150 ms to 28–34 s. Waves of
 * that flood (fresh addresses each wave) run while alice logs in from her
 * usual address and from new ones, and the bystander sends NOOPs.
 */
function loginFlood(label: string, user: (ctx: IsolationContext) => (a: number, i: number) => BenchAccount, firstBlock: number): IsolationScenario {
  return async (ctx) => {
    const port = ctx.member.imapPort;
    const section = `login flood: ${label}`;
    ctx.log(`${section} ...`);
    const unloaded = await loginSeries(ctx, Array(5).fill(ctx.alice.home), ctx.alice);
    const unloadedMs = median(unloaded.ms);
    const t0 = performance.now();
    const kinds: string[] = [];
    let waves = 0;
    let stop = false;
    const flood = (async () => {
      // Waves until alice's logins are measured; at most 6 waves or 90 s.
      for (let w = 0; w < 6 && !stop && performance.now() - t0 < 90_000; w++) {
        kinds.push(...(await floodWave(port, firstBlock + w, 64, 8, user(ctx))));
        waves++;
      }
    })();
    // Let the flood get going (512 connections and their logins) before timing alice.
    await sleep(1000);
    const noop = ctx.bystander.measure(flood, { maxMs: 100_000 });
    const known = await loginSeries(ctx, Array(5).fill(ctx.alice.home), ctx.alice, 300);
    const fresh = await loginSeries(
      ctx,
      [1, 2, 3].map((i) => addr(firstBlock + 100, i)),
      ctx.alice,
      300,
    );
    stop = true;
    await flood;
    const floodMs = performance.now() - t0;
    const knownMs = median(known.ms);
    const spread = (l: { ms: number[]; kinds: string[] }): string => `median / max of ${l.kinds.length}: ${fmtMs(median(l.ms))} / ${fmtMs(Math.max(...l.ms))}; ${tally(l.kinds)}`;
    return [
      { section, metric: 'alice LOGIN, unloaded (median of 5)', value: fmtMs(unloadedMs), note: tally(unloaded.kinds) },
      {
        section,
        metric: 'alice LOGIN under flood, usual address',
        value: fmtMs(knownMs),
        note: `${spread(known)}; ${(knownMs / unloadedMs).toFixed(1)}× unloaded (goal < 2×)`,
      },
      { section, metric: 'alice LOGIN under flood, new address', value: fmtMs(median(fresh.ms)), note: spread(fresh) },
      { section, metric: 'flood answers', value: String(kinds.length), note: `${waves} wave(s) of 64 × 8 in ${fmtMs(floodMs)}: ${tally(kinds)}` },
      noopRow(section, await noop),
    ];
  };
}

/** 64 × 8 logins for names nobody has. */
export const unknownUserFlood = loginFlood('64 addresses × 8 unknown users', () => (a, i) => ({ address: `nobody${a}x${i}@bench.test`, password: 'guess' }), 10);

/** 64 × 8 wrong passwords for one real user: every attempt could cost a real hash. */
export const wrongPasswordFlood = loginFlood('64 addresses × 8 wrong passwords for one user', (ctx) => () => ({ address: ctx.victim.address, password: 'guess' }), 20);

/**
 * Finding: after 5 wrong passwords a user was locked out from every address
 * for 15 minutes. One attacker address guesses 6 times, then 64 addresses
 * 5 times each; after each the victim logs in from a new address and from
 * her usual one.
 */
export const lockout: IsolationScenario = async (ctx) => {
  const port = ctx.member.imapPort;
  const section = 'lockout';
  ctx.log(`${section} ...`);
  const rows: IsolationRow[] = [];
  const probe = async (label: string, from: string): Promise<void> => {
    const r = await timedLogin(port, from, ctx.victim.address, ctx.victim.password);
    rows.push({ section, metric: `victim LOGIN ${label}`, value: kind(r.reply), note: r.reply.startsWith('OK') ? `in ${fmtMs(r.ms)}` : r.reply.slice(0, 80) });
  };
  const single: string[] = [];
  for (let i = 0; i < 6; i++) single.push(kind((await timedLogin(port, addr(40, 1), ctx.victim.address, `wrong ${i}`)).reply));
  rows.push({ section, metric: '6 wrong passwords from one address', value: String(single.length), note: tally(single) });
  await probe('from a new address', addr(41, 1));
  await probe('from her usual address', ctx.victim.home);
  const spread = await floodWave(port, 42, 64, 5, () => ({ address: ctx.victim.address, password: 'guess' }));
  rows.push({ section, metric: '+ 5 wrong passwords from each of 64 addresses', value: String(spread.length), note: tally(spread) });
  await probe('from a new address', addr(41, 2));
  await probe('from her usual address', ctx.victim.home);
  return rows;
};

/**
 * Finding: 9,000 pre-login connections from one address were all accepted.
 * One address opens up to 9,000 connections (200 at a time, at most 30 s)
 * and keeps them; then a client from another address tries to log in.
 */
export const connectionFlood: IsolationScenario = async (ctx) => {
  const port = ctx.member.imapPort;
  const section = 'connection flood';
  ctx.log(`${section} ...`);
  const open: Wire[] = [];
  const greetings: string[] = [];
  const t0 = performance.now();
  const from = addr(50, 1);
  const opening = (async () => {
    let started = 0;
    const worker = async (): Promise<void> => {
      while (started < 9000 && performance.now() - t0 < 30_000) {
        started++;
        try {
          const w = await Wire.open(port, { from, timeoutMs: 5000 });
          open.push(w);
          const g = await w.readLine(5000);
          greetings.push(g.startsWith('* OK') ? 'greeted' : g.startsWith('* BYE') ? `refused (${/\[([A-Z]+)\]/.exec(g)?.[1] ?? 'BYE'})` : 'other');
          if (!g.startsWith('* OK')) w.close();
        } catch (err) {
          greetings.push(`error (${(err as Error).message.slice(0, 30)})`);
        }
      }
    };
    await Promise.all(Array.from({ length: 200 }, worker));
  })();
  const noop = ctx.bystander.measure(opening, { maxMs: 60_000 });
  await opening;
  const elapsed = performance.now() - t0;
  const stillOpen = open.filter((w) => !w.closed).length;
  const other = await timedLogin(port, addr(51, 1), ctx.alice.address, ctx.alice.password);
  for (const w of open) w.close();
  return [
    { section, metric: 'connections from one address', value: String(greetings.length), note: `${tally(greetings)} in ${fmtMs(elapsed)}; ${stillOpen} held open` },
    { section, metric: 'then a login from another address', value: kind(other.reply), note: other.reply.startsWith('OK') ? `in ${fmtMs(other.ms)}` : other.reply.slice(0, 80) },
    noopRow(section, await noop),
  ];
};

/**
 * Finding: a TLS handshake that never completes held its connection. 300
 * connections to the IMAPS port (3 addresses) that never send a
 * ClientHello; how many the node still holds after 20 s, and whether a real
 * IMAPS client gets in meanwhile.
 */
export const tlsStall: IsolationScenario = async (ctx) => {
  const section = 'TLS handshake stall';
  ctx.log(`${section} ...`);
  const sockets: Socket[] = [];
  const t0 = performance.now();
  for (let a = 1; a <= 3; a++) {
    for (let i = 0; i < 100; i++) {
      try {
        sockets.push(await Wire.silent(ctx.member.imapsPort, addr(70, a)));
      } catch {
        /* counted as not opened */
      }
    }
  }
  const closedAfter = new Map<Socket, number>();
  for (const s of sockets) s.once('close', () => closedAfter.set(s, performance.now() - t0));
  let real = 'error';
  const work = (async () => {
    try {
      const w = await Wire.open(ctx.member.imapsPort, { from: addr(71, 1), tls: true });
      await w.readLine();
      real = kind(await w.imap(`LOGIN "${ctx.alice.address}" "${ctx.alice.password}"`));
      w.close();
    } catch (err) {
      real = `error: ${(err as Error).message}`;
    }
    // Wait until the stalls are dropped or 20 s have passed.
    while (closedAfter.size < sockets.length && performance.now() - t0 < 20_000) await sleep(250);
  })();
  const noop = ctx.bystander.measure(work, { maxMs: 30_000 });
  await work;
  const held = sockets.length - closedAfter.size;
  for (const s of sockets) s.destroy();
  const latest = Math.max(0, ...closedAfter.values());
  return [
    {
      section,
      metric: `silent IMAPS connections still held at ${fmtMs(performance.now() - t0)}`,
      value: `${held}/${sockets.length}`,
      note: closedAfter.size ? `${closedAfter.size} dropped by the node, the last after ${fmtMs(latest)}` : 'none dropped',
    },
    { section, metric: 'an IMAPS login meanwhile', value: real },
    noopRow(section, await noop),
  ];
};

/**
 * Finding: a client that sends a NOOP every 8 s was never timed out before
 * login. Started first, read last: whether (and when) the node closed it.
 */
export function preLoginKeepalive(port: number): { report(waitAtLeastMs: number): Promise<IsolationRow[]> } {
  const t0 = performance.now();
  const section = 'pre-login NOOP every 8 s';
  const wire = Wire.open(port, { from: addr(60, 1) }).catch(() => undefined);
  let noops = 0;
  let stop = false;
  const loop = (async () => {
    const w = await wire;
    if (!w) return;
    await w.readLine().catch(() => undefined);
    while (!stop && !w.closed) {
      w.send(`k${++noops} NOOP`);
      await w.waitClosed(8000);
    }
  })();
  return {
    async report(waitAtLeastMs) {
      const w = await wire;
      if (!w) return [{ section, metric: 'connection', value: 'failed' }];
      const left = waitAtLeastMs - (performance.now() - t0);
      if (left > 0) await w.waitClosed(left);
      stop = true;
      const closedAt = w.closedTime;
      w.close();
      await loop;
      return [
        closedAt === undefined
          ? { section, metric: 'closed by the node', value: 'no', note: `still open after ${fmtMs(performance.now() - t0)} and ${noops} NOOPs` }
          : { section, metric: 'closed by the node', value: `after ${fmtMs(closedAt - t0)}`, note: `${noops} NOOPs sent` },
      ];
    },
  };
}

