import { BenchClient } from './client';
import type { BenchUser } from './corpus';
import type { TreeMemory } from '../anchors';
import { pooled } from './build-folder';

export interface IdleFigures {
  sessions: number;
  users: number;
  /** All processes of the server, before and after (RSS and PSS, see anchors/procmem.ts). */
  before: TreeMemory;
  after: TreeMemory;
  openMs: number;
  /** IDLE sessions of one user that saw `* n EXISTS` after an APPEND by another session. */
  notified: number;
  notifiable: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Tries per session when the server answers LOGIN with NO [UNAVAILABLE] (RFC 5530: try again later), as a real client would. */
const LOGIN_TRIES = 10;

async function loggedIn(port: number, user: BenchUser): Promise<BenchClient> {
  for (let attempt = 1; ; attempt++) {
    const c = await BenchClient.connect(port);
    try {
      await c.login(user.address, user.password);
      return c;
    } catch (err) {
      c.close();
      // The node bounds its queue of password checks (issue 9): a burst of 50 logins may be told to come back.
      if (attempt >= LOGIN_TRIES || !/\[UNAVAILABLE\]/.test((err as Error).message)) throw err;
      await sleep(200 * attempt);
    }
  }
}

async function idleSession(port: number, user: BenchUser): Promise<BenchClient> {
  const c = await loggedIn(port, user);
  await c.ok('SELECT INBOX');
  c.write(`${c.nextTag()} IDLE\r\n`);
  const cont = await c.readLine(30_000);
  if (!cont.startsWith('+')) throw new Error(`IDLE refused: ${cont}`);
  return c;
}

/**
 * Opens `sessions` authenticated IDLE sessions (RFC 2177), spread
 * round-robin over `users`, and reads the memory of every process of the
 * server before and after. The server is a separate process (tree), so the
 * bench's own sockets do not count. A short warm-up first loads the code paths, so the delta is the
 * sessions' cost, not first-use compilation.
 */
export async function idleBench(server: { port: number; memory(): Promise<TreeMemory> }, users: readonly BenchUser[], sessions: number): Promise<IdleFigures> {
  const port = server.port;
  const warm = await Promise.all(users.slice(0, 10).map((u) => idleSession(port, u)));
  for (const c of warm) c.close();
  await sleep(1500);
  const before = await server.memory();

  const clients: BenchClient[] = [];
  const t0 = performance.now();
  try {
    await pooled(sessions, 50, async (i) => {
      clients[i] = await idleSession(port, users[i % users.length]);
    });
    const openMs = performance.now() - t0;
    await sleep(2000);
    const after = await server.memory();

    // Sanity: the sessions are live. An APPEND for users[0] must reach its IDLE sessions (RFC 2177).
    const target = users[0];
    const mine = clients.filter((_, i) => i % users.length === 0);
    const notifiedBy = mine.map((c) => waitExists(c, 5000));
    const writer = await BenchClient.connect(port);
    await writer.login(target.address, target.password);
    const msg = 'Subject: wake up\r\n\r\nhello\r\n';
    await writer.ok(`APPEND INBOX {${msg.length}+}\r\n${msg}`);
    await writer.logout();
    const notified = (await Promise.all(notifiedBy)).filter(Boolean).length;
    return { sessions, users: users.length, before, after, openMs, notified, notifiable: mine.length };
  } finally {
    for (const c of clients) c?.close();
  }
}

async function waitExists(c: BenchClient, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100; i++) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    try {
      if (/^\* \d+ EXISTS$/.test(await c.readLine(left))) return true;
    } catch {
      return false;
    }
  }
  return false;
}
