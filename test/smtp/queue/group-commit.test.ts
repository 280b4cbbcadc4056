import { describe, expect, it } from 'vitest';
import { Coalesced, GroupCommit } from '../../../mail-runtime/smtp/queue/group-commit';
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

describe('Coalesced (the shared ownership check after a commit)', () => {
  it('a caller never rides a run that had started before it asked; callers waiting together share one run', async () => {
    const runs: ReturnType<typeof gate>[] = [];
    const c = new Coalesced(() => {
      const g = gate();
      runs.push(g);
      return g.promise;
    });
    let firstDone = false;
    const first = c.run().then(() => (firstDone = true));
    expect(runs).toHaveLength(1);
    const late = [c.run(), c.run(), c.run()];
    let lateDone = 0;
    for (const p of late) void p.then(() => lateDone++);
    await tick();
    // The three asked while run 1 was under way: they wait for run 2, which starts only after run 1.
    expect(runs).toHaveLength(1);
    runs[0]!.open();
    await first;
    expect(firstDone).toBe(true);
    await tick();
    expect(lateDone).toBe(0);
    expect(runs).toHaveLength(2);
    runs[1]!.open();
    await Promise.all(late);
    expect(lateDone).toBe(3);
    // Idle again: the next caller starts a run of its own at once.
    void c.run();
    expect(runs).toHaveLength(3);
    runs[2]!.open();
  });

  it('a failed run fails the callers it served (a fenced check acknowledges nothing)', async () => {
    const runs: ReturnType<typeof gate>[] = [];
    const c = new Coalesced(() => {
      const g = gate();
      runs.push(g);
      return g.promise;
    });
    const a = c.run();
    const b = c.run();
    runs[0]!.fail(new Error('FENCED'));
    await expect(a).rejects.toThrow('FENCED');
    await tick();
    runs[1]!.fail(new Error('FENCED again'));
    await expect(b).rejects.toThrow('FENCED again');
  });
});
