import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../mail-runtime/smtp/queue/group-commit';
import { newFsyncStats } from '../../../mail-runtime/smtp/queue/fsync';

/**
 * The scheduling of group commits, with commits the test finishes by hand
 * (the file side is covered by folder.test.ts on real files): which items
 * ride which commit, how many commits run at once, and that nobody is told
 * before the commit that covers it has finished.
 */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((open = res), (fail = rej)));
  return { promise, open, fail };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function recorder() {
  const batches: { items: readonly number[]; done: ReturnType<typeof gate> }[] = [];
  const commit = (items: readonly number[]): Promise<void> => {
    const done = gate();
    batches.push({ items, done });
    return done.promise;
  };
  return { batches, commit };
}

describe('GroupCommit', () => {
  it('stop-and-wait (depth 1): an item arriving during a commit waits for it, then shares the next commit with every other arrival', async () => {
    const { batches, commit } = recorder();
    const stats = newFsyncStats();
    const gc = new GroupCommit<number>(commit, stats, 1);
    const told: number[] = [];
    const req = (n: number) => gc.request(n).then(() => told.push(n));
    const all = [req(1)];
    await tick();
    all.push(req(2), req(3));
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[1]]);
    batches[0]!.done.open();
    await tick();
    expect(told).toEqual([1]);
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3]]);
    batches[1]!.done.open();
    await Promise.all(all);
    expect(told).toEqual([1, 2, 3]);
    expect(stats).toMatchObject({ commits: 2, committedWrites: 3 });
  });

  it('pipelined (depth 2): the next batch starts while a commit runs; what arrives while both run waits and rides one commit', async () => {
    const { batches, commit } = recorder();
    const stats = newFsyncStats();
    const gc = new GroupCommit<number>(commit, stats, 2);
    const told: number[] = [];
    const req = (n: number) => gc.request(n).then(() => told.push(n));
    const all = [req(1)];
    await tick();
    all.push(req(2));
    await tick();
    // Not held back by the commit in flight.
    expect(batches.map((b) => b.items)).toEqual([[1], [2]]);
    all.push(req(3), req(4), req(5));
    await tick();
    expect(batches).toHaveLength(2);
    // The second finishes first: only its writer is told; the first's is not.
    batches[1]!.done.open();
    await tick();
    expect(told).toEqual([2]);
    expect(batches.map((b) => b.items)).toEqual([[1], [2], [3, 4, 5]]);
    batches[0]!.done.open();
    await tick();
    expect(told.sort()).toEqual([1, 2]);
    batches[2]!.done.open();
    await Promise.all(all);
    expect(told.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(stats).toMatchObject({ commits: 3, committedWrites: 5 });
  });

  it('a failed commit fails exactly its own writers; the queue goes on', async () => {
    const { batches, commit } = recorder();
    const gc = new GroupCommit<number>(commit, newFsyncStats(), 2);
    const a = gc.request(1);
    await tick();
    const b = gc.request(2);
    await tick();
    batches[0]!.done.fail(new Error('EIO'));
    batches[1]!.done.open();
    await expect(a).rejects.toThrow('EIO');
    await expect(b).resolves.toBeUndefined();
    const c = gc.request(3);
    await tick();
    batches[2]!.done.open();
    await expect(c).resolves.toBeUndefined();
  });

  it('refuses a depth below 1', () => {
    expect(() => new GroupCommit<number>(() => Promise.resolve(), newFsyncStats(), 0)).toThrow(/depth/);
  });
});
