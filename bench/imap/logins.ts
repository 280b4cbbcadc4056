import { hashPassword, verifyPassword, type ScryptParams } from '../../mail-runtime/auth';
import { BenchClient } from './client';
import { medianOfRounds } from '../report';
import type { BenchUser } from './corpus';

export interface LoginFigures {
  label: string;
  logins: number;
  /** Logins answered `NO [UNAVAILABLE]` (try again later) and retried on a new connection; not counted in `logins`. */
  unavailable: number;
  ms: number;
  perSecond: number;
}

/** RFC 5530 §3: UNAVAILABLE — a temporary failure; the client may try again. */
const UNAVAILABLE = /^NO \[UNAVAILABLE\]/;
/** Tries of one login on fresh connections before the section fails. */
const LOGIN_TRIES = 5;

/**
 * One full login: connect, greeting, LOGIN, LOGOUT, close. A LOGIN answered
 * `NO [UNAVAILABLE]` is tried again on a new connection (as a client does),
 * at most LOGIN_TRIES times; resolves with how many answers were UNAVAILABLE.
 */
async function oneLogin(port: number, user: BenchUser): Promise<number> {
  for (let unavailable = 0; ; unavailable++) {
    const c = await BenchClient.connect(port);
    try {
      const r = await c.command(`LOGIN "${user.address}" "${user.password}"`);
      if (r.tagged.startsWith('OK')) {
        await c.logout();
        return unavailable;
      }
      if (!UNAVAILABLE.test(r.tagged) || unavailable + 1 >= LOGIN_TRIES) throw new Error(`LOGIN ${user.address} → ${r.tagged}${unavailable ? ` (after ${unavailable} UNAVAILABLE)` : ''}`);
    } finally {
      c.close();
    }
  }
}

/**
 * `workers` clients each loop LOGIN/LOGOUT on fresh connections until
 * `maxLogins` are done in total or `maxMs` has passed (both bounds hold).
 */
export async function loginLoop(port: number, user: BenchUser, workers: number, maxLogins: number, maxMs: number, label: string): Promise<LoginFigures> {
  let started = 0;
  let done = 0;
  let unavailable = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < maxLogins && performance.now() - t0 < maxMs) {
      started++;
      unavailable += await oneLogin(port, user);
      done++;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const ms = performance.now() - t0;
  return { label, logins: done, unavailable, ms, perSecond: (done * 1000) / ms };
}

/** Milliseconds of one password verification with these scrypt parameters, measured in this process (sequentially). */
export async function scryptCost(params: ScryptParams, rounds: number): Promise<number> {
  const password = 'bench password';
  const hash = await hashPassword(password, params);
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    if (!(await verifyPassword(password, hash))) throw new Error('scrypt check failed');
  }
  return (performance.now() - t0) / rounds;
}

/** Median time of one full login (connect, LOGIN, LOGOUT) over `n` sequential tries, after one warm-up. */
export async function medianLoginMs(port: number, user: BenchUser, n: number): Promise<number> {
  await oneLogin(port, user);
  const { median: ms } = await medianOfRounds(
    n,
    async () => {
      const t = performance.now();
      await oneLogin(port, user);
      return performance.now() - t;
    },
    (t) => t,
  );
  return ms;
}
