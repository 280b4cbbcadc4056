import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../helpers/imap';
import { spawnNode, type SpawnedNode } from '../helpers/node';
import { ALICE, writeUsersFile } from '../helpers/users';

/**
 * `\Recent` survives a restart of a real node process (RFC 3501 §2.3.2:
 * recent for exactly one session, the first one told about the message):
 * mail delivered before the restart and announced to nobody is still
 * recent after it, whatever its INTERNALDATE; mail a session was told about
 * is not announced again.
 */
let dir: string;
let running: SpawnedNode | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-recent-restart-'));
  await writeUsersFile(join(dir, 'users.yaml'), [ALICE]);
});
afterAll(async () => {
  running?.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function restart(): Promise<void> {
  if (running) {
    running.child.kill('SIGTERM');
    await running.exited;
  }
  running = await spawnNode(dir);
}

async function session<T>(fn: (c: Awaited<ReturnType<typeof imapLogin>>) => Promise<T>): Promise<T> {
  const c = await imapLogin(running!.imapPort, ALICE.address, ALICE.password);
  try {
    return await fn(c);
  } finally {
    await c.command('z', 'LOGOUT').catch(() => undefined);
    c.close();
  }
}

const recentLine = (lines: string[]): string | undefined => lines.find((l) => / RECENT$/.test(l));

describe('RFC 3501 §2.3.2: \\Recent across node restarts', () => {
  it('unannounced mail stays recent after a restart; announced mail is not recent again', { timeout: 120_000 }, async () => {
    await restart();
    await session(async (c) => {
      // Appended while nobody has INBOX selected: recent for the next SELECT, whenever that is.
      // One with an old INTERNALDATE, one dated in the future (no clock rule decides here).
      expect((await imapAppend(c, 'a1', 'INBOX', message('old date'), '"01-Jan-2001 00:00:00 +0000"')).pop()).toMatch(/^a1 OK/);
      expect((await imapAppend(c, 'a2', 'INBOX', message('future date'), '"01-Jan-2099 00:00:00 +0000"')).pop()).toMatch(/^a2 OK/);
      expect(await c.command('s', 'STATUS INBOX (MESSAGES RECENT)')).toEqual(['* STATUS "INBOX" (MESSAGES 2 RECENT 2)', 's OK STATUS completed']);
    });

    await restart();
    await session(async (c) => {
      expect(await c.command('s', 'STATUS INBOX (MESSAGES RECENT)')).toEqual(['* STATUS "INBOX" (MESSAGES 2 RECENT 2)', 's OK STATUS completed']);
      expect(recentLine(await c.command('t', 'SELECT INBOX'))).toBe('* 2 RECENT');
      expect(await c.command('u', 'SEARCH RECENT')).toEqual(['* SEARCH 1 2', 'u OK SEARCH completed']);
    });

    await restart();
    await session(async (c) => {
      expect(await c.command('s', 'STATUS INBOX (RECENT)')).toEqual(['* STATUS "INBOX" (RECENT 0)', 's OK STATUS completed']);
      expect(recentLine(await c.command('t', 'SELECT INBOX'))).toBe('* 0 RECENT');
      // New mail after the restart, announced to this session (it has INBOX selected): claimed by it.
      const other = await imapLogin(running!.imapPort, ALICE.address, ALICE.password);
      expect((await imapAppend(other, 'a3', 'INBOX', message('third'))).pop()).toMatch(/^a3 OK/);
      other.close();
      const noop = await c.command('n', 'NOOP');
      expect(noop).toContain('* 3 EXISTS');
      expect(noop).toContain('* 1 RECENT');
    });

    await restart();
    await session(async (c) => {
      expect(await c.command('s', 'STATUS INBOX (MESSAGES RECENT)')).toEqual(['* STATUS "INBOX" (MESSAGES 3 RECENT 0)', 's OK STATUS completed']);
    });
  });
});
