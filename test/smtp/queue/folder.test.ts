import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueError, QueueFolder, loadFolder, newestMarker, type QueueEntry } from '../../../mail-runtime/smtp/queue';

/**
 * The queue folder on a real filesystem: what is acknowledged is on disk
 * (a fresh reader finds it), fsyncs are batched across writers but never
 * skipped, records are validated on read, and ownership moves by epoch (a
 * taken-over owner can neither acknowledge nor override anything).
 */
let storage: string;
const opened: QueueFolder[] = [];
beforeEach(async () => {
  storage = await mkdtemp(join(tmpdir(), 'mf-queue-'));
});
afterEach(async () => {
  for (const q of opened.splice(0)) await q.close();
  await rm(storage, { recursive: true, force: true });
});

const partial = (rcpt = 'alice@example.com') => ({
  mailFrom: 'bench-sender@example.net',
  recipients: [{ address: rcpt, status: 'pending' as const, attempts: 0 }],
  expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  origin: 'mx' as const,
});
const msg = (n: number) => Buffer.from(`Subject: ${n}\r\nMessage-ID: <${n}@example.net>\r\n\r\nbody ${n}\r\n`);
async function claim(memberId = 'gw-a', extra: Partial<Parameters<typeof QueueFolder.claim>[0]> = {}): Promise<QueueFolder> {
  const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId, ...extra });
  opened.push(q);
  return q;
}

describe('enqueue: durable before it resolves, group commit across concurrent writers', () => {
  it('concurrent messages share segment files and fsyncs; every one is on disk when its promise resolves', async () => {
    const q = await claim();
    const n = 64;
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => q.enqueue(partial(), msg(i))));
    expect(new Set(ids).size).toBe(n);
    // Never skipped: every message was covered by a commit, each commit is one file fsync and needs a directory fsync
    // (shared by commits that overlap).
    expect(q.stats.committedWrites).toBe(n);
    expect(q.stats.files).toBe(q.stats.commits);
    expect(q.stats.dirs).toBeGreaterThan(0);
    expect(q.stats.dirs).toBeLessThanOrEqual(q.stats.commits);
    // Batched: fewer commits than messages.
    expect(q.stats.commits).toBeLessThan(n);
    expect((await readdir(q.paths.seg)).length).toBe(q.stats.commits);
    // A fresh reader (another process, the CLI) finds every message, byte for byte.
    const state = await loadFolder(q.paths);
    expect([...state.entries.keys()].sort()).toEqual([...ids].sort());
    const seventh = state.entries.get(ids[7]!)!;
    expect(seventh.entry).toMatchObject({ id: ids[7], mailFrom: 'bench-sender@example.net', owner: { memberId: 'gw-a', epoch: 1 }, size: msg(7).length });
    expect((await q.readMessage(seventh.entry)).equals(msg(7))).toBe(true);
    expect(await readdir(q.paths.tmp)).toEqual([]);
  });

  it('stop-and-wait and pipelined commits both write every message once, each commit one file fsync and at most one directory fsync', async () => {
    for (const depth of [1, 2]) {
      const q = await QueueFolder.claim({ storagePath: storage, folder: `gw-depth-${depth}`, memberId: 'gw-a', segmentCommitDepth: depth });
      opened.push(q);
      const n = 48;
      const ids = await Promise.all(Array.from({ length: n }, (_, i) => q.enqueue(partial(), msg(i))));
      expect(q.stats).toMatchObject({ committedWrites: n, files: q.stats.commits });
      // Overlapping commits share a directory fsync when their renames came before it started.
      expect(q.stats.dirs).toBeGreaterThan(0);
      expect(q.stats.dirs).toBeLessThanOrEqual(q.stats.commits);
      expect(q.stats.commits).toBeLessThan(n);
      // At most `depth` commits start before the rest can gather: 48 concurrent writers never cost more than depth + a few.
      expect(q.stats.commits).toBeLessThanOrEqual(depth + 2);
      const state = await loadFolder(q.paths);
      expect([...state.entries.keys()].sort()).toEqual([...ids].sort());
    }
  });

  it('a segment the writer thread cannot put in place fails its writers and leaves nothing behind; the next one works', async () => {
    const q = await claim();
    const before = await q.enqueue(partial(), msg(0));
    // seg/ is gone: the rename fails after the fsync, as an I/O error would.
    await rm(q.paths.seg, { recursive: true });
    const failed = await Promise.allSettled([1, 2, 3].map((i) => q.enqueue(partial(), msg(i))));
    expect(failed.every((r) => r.status === 'rejected')).toBe(true);
    expect(await readdir(q.paths.tmp)).toEqual([]);
    expect(q.ids()).toEqual([before]);
    await mkdir(q.paths.seg);
    const after = await q.enqueue(partial(), msg(4));
    expect([...(await loadFolder(q.paths)).entries.keys()]).toEqual([after]);
  });

  it('ids sort by arrival', async () => {
    const q = await claim();
    const first = await q.enqueue(partial(), msg(1));
    await new Promise((r) => setTimeout(r, 5));
    const second = await q.enqueue(partial(), msg(2));
    expect(q.ids()).toEqual([first, second]);
  });

  it('an invalid entry is refused before anything is written', async () => {
    const q = await claim();
    await expect(q.enqueue({ ...partial(), recipients: [] }, msg(1))).rejects.toThrow();
    expect(await readdir(q.paths.seg)).toEqual([]);
  });
});

describe('journal: changes are durable, replayed in order, compacted', () => {
  it('a saved state supersedes the queued one; finishing every message of a segment removes the segment', async () => {
    const q = await claim();
    const [a, b] = await Promise.all([q.enqueue(partial(), msg(1)), q.enqueue(partial(), msg(2))]);
    const e = q.read(a);
    const changed: QueueEntry = { ...e, recipients: [{ ...e.recipients[0]!, attempts: 1, lastReply: '451 4.2.0 later' }], nextAttemptAt: new Date().toISOString() };
    await q.save(changed);
    expect((await loadFolder(q.paths)).entries.get(a)!.entry.recipients[0]).toMatchObject({ attempts: 1, lastReply: '451 4.2.0 later' });
    await q.remove(a);
    await q.remove(b);
    expect(await readdir(q.paths.seg)).toEqual([]);
    expect((await loadFolder(q.paths)).entries.size).toBe(0);
  });

  it('a restarted owner finds what the previous process recorded (finished stays finished)', async () => {
    const q = await claim();
    const ids = await Promise.all([1, 2, 3].map((i) => q.enqueue(partial(), msg(i))));
    await q.remove(ids[0]!);
    await q.save({ ...q.read(ids[1]!), nextAttemptAt: '2030-01-01T00:00:00.000Z' });
    await q.close();
    const again = await claim();
    const { entries } = await again.scan();
    expect(entries.map((e) => e.id)).toEqual(ids.slice(1).sort());
    expect(again.read(ids[1]!).nextAttemptAt).toBe('2030-01-01T00:00:00.000Z');
    // Its own journal is a new file: it never appends after another writer's last line.
    await again.save(again.read(ids[2]!));
    expect((await readdir(again.paths.journal)).sort()).toEqual(['1.1.log', '2.1.log']);
  });

  it('compaction keeps every unfinished state and every finished mark whose segment remains, and drops the old journals', async () => {
    const q = await claim('gw-a', { journalCompactBytes: 2000 });
    const ids = await Promise.all([1, 2, 3, 4].map((i) => q.enqueue(partial(), msg(i))));
    const segs = await readdir(q.paths.seg);
    await q.remove(ids[0]!);
    for (let i = 0; i < 12; i++) await q.save({ ...q.read(ids[1]!), nextAttemptAt: new Date(Date.UTC(2030, 0, 1 + i)).toISOString() });
    const journals = await readdir(q.paths.journal);
    expect(journals.length).toBe(1);
    expect(journals[0]).not.toBe('1.1.log');
    const state = await loadFolder(q.paths);
    expect([...state.entries.keys()].sort()).toEqual(ids.slice(1).sort());
    expect(state.entries.get(ids[1]!)!.entry.nextAttemptAt).toBe('2030-01-12T00:00:00.000Z');
    // The first message's segment (if it still holds others) still says it is finished.
    if ((await readdir(q.paths.seg)).length === segs.length) expect(state.finished.has(ids[0]!)).toBe(true);
  });
});

describe('records are validated on read (zod)', () => {
  it('a damaged journal line is reported and not used; an unfinished last line is ignored', async () => {
    const q = await claim();
    const id = await q.enqueue(partial(), msg(1));
    await q.save({ ...q.read(id), nextAttemptAt: '2030-01-01T00:00:00.000Z' });
    const [journal] = await readdir(q.paths.journal);
    await appendFile(join(q.paths.journal, journal!), `${JSON.stringify({ id, recipients: 'nobody' })}\n{"removed":"${id}`);
    const state = await loadFolder(q.paths);
    expect(state.problems).toEqual([{ where: `${join(q.paths.journal, journal!)}:2`, error: expect.stringMatching(/recipients/) }]);
    expect(state.entries.get(id)!.entry.nextAttemptAt).toBe('2030-01-01T00:00:00.000Z');
  });

  it('a segment cut short or not a segment at all is reported; the others are read', async () => {
    const q = await claim();
    const good = await q.enqueue(partial(), msg(1));
    const cut = await q.enqueue(partial(), msg(2));
    const cutSeg = (await loadFolder(q.paths)).entries.get(cut)!.loc.file;
    await truncate(cutSeg, (await readFile(cutSeg)).length - 3);
    await writeFile(join(q.paths.seg, '0000000000000000000'), 'garbage\n');
    const state = await loadFolder(q.paths);
    expect([...state.entries.keys()]).toEqual([good]);
    expect(state.problems.map((p) => p.error)).toEqual([expect.stringMatching(/not a queue segment/), expect.stringMatching(/is cut short/)]);
  });
});

describe('ownership by epoch: takeover of a dead gateway’s queue', () => {
  it('a second claim takes a higher epoch; the old owner can neither acknowledge nor change anything', async () => {
    const a = await claim();
    const queued = await a.enqueue(partial(), msg(1));
    expect(a.epoch).toBe(1);
    const b = await claim('gw-b');
    expect(b.epoch).toBe(2);
    expect(await newestMarker(b.paths)).toEqual({ epoch: 2, memberId: 'gw-b' });

    // The old owner's next queue write is refused after its fsync, before any 250, and leaves no segment behind.
    const segs = await readdir(a.paths.seg);
    const err = await a.enqueue(partial(), msg(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect((err as QueueError).code).toBe('FENCED');
    expect((err as QueueError).message).toMatch(/taken over by gw-b at epoch 2 \(ours: 1\)/);
    expect(await readdir(a.paths.seg)).toEqual(segs);
    // From now on it refuses at once, without touching the disk.
    await expect(a.save(a.read(queued))).rejects.toMatchObject({ code: 'FENCED' });
    await expect(a.remove(queued)).rejects.toMatchObject({ code: 'FENCED' });

    // The new owner sees the queued message and writes with its own epoch.
    const { entries } = await b.scan();
    expect(entries.map((e) => e.id)).toEqual([queued]);
    await b.save(entries[0]!);
    expect((await loadFolder(b.paths)).entries.get(queued)!.entry.owner).toEqual({ memberId: 'gw-b', epoch: 2 });
  });

  it('a late write of the old owner (paused before it noticed) never overrides the new owner’s', async () => {
    const a = await claim();
    const id = await a.enqueue(partial(), msg(1));
    const stale = a.read(id);
    const b = await claim('gw-b');
    const current = (await b.scan()).entries[0]!;
    await b.save({ ...current, recipients: [{ ...current.recipients[0]!, attempts: 1, lastReply: '250 delivered elsewhere' }] });
    // A has not looked at the markers since: its line lands in its own epoch's journal, and is not acknowledged.
    await expect(a.save({ ...stale, recipients: [{ ...stale.recipients[0]!, attempts: 7 }] })).rejects.toMatchObject({ code: 'FENCED' });
    expect((await readdir(b.paths.journal)).sort()).toEqual(['1.1.log', '2.1.log']);
    expect((await loadFolder(b.paths)).entries.get(id)!.entry.recipients[0]).toMatchObject({ attempts: 1 });
  });

  it('an explicit epoch must be newer than the one on disk; a restart of the owner claims again above it', async () => {
    await claim('gw-a', { epoch: 5 });
    await expect(claim('gw-b', { epoch: 4 })).rejects.toMatchObject({ code: 'FENCED' });
    await expect(claim('gw-b', { epoch: 5 })).rejects.toMatchObject({ code: 'FENCED' });
    const again = await claim();
    expect(again.epoch).toBe(6);
    // Older markers are history.
    expect(await readdir(again.paths.epochs)).toEqual(['6']);
  });

  it('racing claims end with exactly one owner', async () => {
    const claims = await Promise.allSettled(['gw-a', 'gw-b', 'gw-c', 'gw-d'].map((m) => claim(m)));
    const folders = claims.filter((c): c is PromiseFulfilledResult<QueueFolder> => c.status === 'fulfilled').map((c) => c.value);
    const owners: string[] = [];
    for (const f of folders) {
      try {
        await f.owner.check();
        owners.push(f.owner.memberId);
      } catch (e) {
        expect((e as QueueError).code).toBe('FENCED');
      }
    }
    expect(owners).toHaveLength(1);
  });
});
