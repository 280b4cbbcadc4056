import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueError, QueueFolder, newestMarker, readEntry, type QueueEntry } from '../../../mail-runtime/smtp/queue';

/**
 * The queue folder on a real filesystem: what is acknowledged is on disk,
 * fsyncs are batched but never skipped, entries are validated on read, and
 * ownership moves by epoch (a taken-over owner can neither acknowledge nor
 * change anything).
 */
let storage: string;
beforeEach(async () => {
  storage = await mkdtemp(join(tmpdir(), 'mf-queue-'));
});
afterEach(async () => {
  await rm(storage, { recursive: true, force: true });
});

const partial = (rcpt = 'alice@example.com') => ({
  mailFrom: 'bench-sender@example.net',
  recipients: [{ address: rcpt, status: 'pending' as const, attempts: 0 }],
  expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  origin: 'mx' as const,
});
const msg = (n: number) => Buffer.from(`Subject: ${n}\r\nMessage-ID: <${n}@example.net>\r\n\r\nbody ${n}\r\n`);

describe('enqueue: durable before it resolves, group commit across concurrent writers', () => {
  it('every message is fsynced on its own; directory fsyncs are shared by the writers of a batch', async () => {
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const n = 64;
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => q.enqueue(partial(), msg(i))));
    expect(new Set(ids).size).toBe(n);
    for (const id of ids) expect(existsSync(join(q.paths.msg, id))).toBe(true);
    // Never skipped: one file fsync per message.
    expect(q.stats.files).toBe(n);
    expect(q.stats.committedWrites).toBe(n);
    // Batched: fewer commits (each one directory fsync + one ownership check) than writers.
    expect(q.stats.commits).toBeLessThan(n);
    expect(q.stats.dirs).toBe(q.stats.commits);
    // Read back: entry and message as written.
    const e = await q.read(ids[7]!);
    expect(e).toMatchObject({ id: ids[7], mailFrom: 'bench-sender@example.net', owner: { memberId: 'gw-a', epoch: 1 }, size: msg(7).length });
    expect((await q.readMessage(e)).equals(msg(7))).toBe(true);
    // Nothing left half-written.
    expect(await readdir(q.paths.tmp)).toEqual([]);
  });

  it('ids sort by arrival and the folder lists oldest first', async () => {
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const first = await q.enqueue(partial(), msg(1));
    await new Promise((r) => setTimeout(r, 5));
    const second = await q.enqueue(partial(), msg(2));
    expect(await q.ids()).toEqual([first, second]);
  });

  it('an invalid entry is refused before anything is written', async () => {
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    await expect(q.enqueue({ ...partial(), recipients: [] }, msg(1))).rejects.toThrow();
    expect(await q.ids()).toEqual([]);
  });
});

describe('entries are validated on read (zod)', () => {
  it('a corrupt entry file is reported by scan, never delivered', async () => {
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const good = await q.enqueue(partial(), msg(1));
    const bad = await q.enqueue(partial(), msg(2));
    await writeFile(join(q.paths.entries, `${bad}.1.json`), JSON.stringify({ id: bad, recipients: 'nobody' }));
    await expect(q.read(bad)).rejects.toMatchObject({ code: 'CORRUPT' });
    await expect(q.read(bad)).rejects.toThrow(/recipients/);
    const { entries, problems } = await q.scan();
    expect(entries.map((e) => e.id)).toEqual([good]);
    expect(problems.map((p) => p.id)).toEqual([bad]);
  });

  it('a message whose length differs from its entry is CORRUPT', async () => {
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const id = await q.enqueue(partial(), msg(1));
    const e = await q.read(id);
    await expect(q.readMessage({ ...e, size: e.size + 1 })).rejects.toMatchObject({ code: 'CORRUPT' });
  });

  it('a saved entry supersedes the queued line; remove leaves nothing; an orphaned entry file is dropped by scan', async () => {
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const id = await q.enqueue(partial(), msg(1));
    const e = await q.read(id);
    const changed: QueueEntry = { ...e, recipients: [{ ...e.recipients[0]!, attempts: 1, lastReply: '451 4.2.0 later' }], nextAttemptAt: new Date().toISOString() };
    await q.save(changed);
    expect((await readEntry(q.paths, id)).recipients[0]).toMatchObject({ attempts: 1, lastReply: '451 4.2.0 later' });
    await q.remove(id);
    expect(await q.ids()).toEqual([]);
    expect(await readdir(q.paths.entries)).toEqual([]);
    await writeFile(join(q.paths.entries, `${id}.1.json`), JSON.stringify(changed));
    await q.scan();
    expect(await readdir(q.paths.entries)).toEqual([]);
  });
});

describe('ownership by epoch: takeover of a dead gateway’s queue', () => {
  it('a second claim takes a higher epoch; the old owner can neither acknowledge nor change anything', async () => {
    const a = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const queued = await a.enqueue(partial(), msg(1));
    expect(a.epoch).toBe(1);
    const b = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-b' });
    expect(b.epoch).toBe(2);
    expect(await newestMarker(b.paths)).toEqual({ epoch: 2, memberId: 'gw-b' });

    // The old owner's next write is refused after its fsync, before any 250, and leaves no file behind.
    const err = await a.enqueue(partial(), msg(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect((err as QueueError).code).toBe('FENCED');
    expect((err as QueueError).message).toMatch(/taken over by gw-b at epoch 2 \(ours: 1\)/);
    expect(await a.ids()).toEqual([queued]);
    // From now on it refuses at once, without touching the disk.
    await expect(a.save(await a.read(queued))).rejects.toMatchObject({ code: 'FENCED' });
    await expect(a.remove(queued)).rejects.toMatchObject({ code: 'FENCED' });

    // The new owner sees the queued message and writes with its own epoch.
    const { entries } = await b.scan();
    expect(entries.map((e) => e.id)).toEqual([queued]);
    await b.save(entries[0]!);
    expect((await b.read(queued)).owner).toEqual({ memberId: 'gw-b', epoch: 2 });
  });

  it('a late write of the old owner (paused before it noticed) never replaces the new owner’s entry', async () => {
    const a = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    const id = await a.enqueue(partial(), msg(1));
    const stale = await a.read(id);
    const b = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-b' });
    const current = (await b.scan()).entries[0]!;
    await b.save({ ...current, recipients: [{ ...current.recipients[0]!, status: 'delivered', attempts: 1, doneAt: new Date().toISOString() }] });
    // A has not looked at the markers since: its write lands on disk, but in its own epoch's file, and is not acknowledged.
    await expect(a.save({ ...stale, recipients: [{ ...stale.recipients[0]!, attempts: 7 }] })).rejects.toMatchObject({ code: 'FENCED' });
    expect((await readdir(b.paths.entries)).sort()).toEqual([`${id}.1.json`, `${id}.2.json`]);
    expect((await readEntry(b.paths, id)).recipients[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('an explicit epoch must be newer than the one on disk; a restart of the owner claims again above it', async () => {
    await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a', epoch: 5 });
    await expect(QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-b', epoch: 4 })).rejects.toMatchObject({ code: 'FENCED' });
    await expect(QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-b', epoch: 5 })).rejects.toMatchObject({ code: 'FENCED' });
    const again = await QueueFolder.claim({ storagePath: storage, folder: 'gw-a', memberId: 'gw-a' });
    expect(again.epoch).toBe(6);
    // Older markers are history.
    expect(await readdir(again.paths.epochs)).toEqual(['6']);
  });

  it('racing claims end with exactly one owner', async () => {
    const claims = await Promise.allSettled(['gw-a', 'gw-b', 'gw-c', 'gw-d'].map((m) => QueueFolder.claim({ storagePath: storage, folder: 'gw-x', memberId: m })));
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
