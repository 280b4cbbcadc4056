import { describe, expect, it } from 'vitest';
import { BodyReadAhead } from '../../../mail-runtime/imap/commands/read-ahead';
import type { Folder } from '../../../mail-runtime/store';

/** A folder whose reads are counted (each readMany is one batch) and never touch a disk. */
function fakeFolder(fail: ReadonlySet<number> = new Set()) {
  const started: number[] = [];
  const batches: number[][] = [];
  const body = (uid: number): Promise<Buffer> => (fail.has(uid) ? Promise.reject(new Error(`no ${uid}`)) : Promise.resolve(Buffer.from(`m${uid}`)));
  const folder = {
    read: (uid: number) => (started.push(uid), batches.push([uid]), body(uid)),
    readMany: (uids: readonly number[]) => (started.push(...uids), batches.push([...uids]), uids.map(body)),
  } as unknown as Folder;
  return { folder, started, batches };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('BodyReadAhead', () => {
  it('reads up to 128 small messages ahead in batches of 32, each once, in order', async () => {
    const { folder, started, batches } = fakeFolder();
    const order = Array.from({ length: 300 }, (_, i) => ({ uid: i + 1, size: 1000 }));
    const ra = new BodyReadAhead(folder, order);
    expect((await ra.read(1)).toString()).toBe('m1');
    // The wanted one starts the first batch; three more fill the window to 128 held besides it.
    expect(batches).toEqual([range(1, 32), range(33, 64), range(65, 96), range(97, 128)]);
    for (let u = 2; u <= 31; u++) expect((await ra.read(u)).toString()).toBe(`m${u}`);
    expect(batches.length).toBe(4); // room for 31 at most so far: no batch of fewer than 32
    expect((await ra.read(32)).toString()).toBe('m32');
    expect(batches[4]).toEqual(range(129, 160)); // 33–128 held: a full batch fits again
    for (let u = 33; u <= 300; u++) expect((await ra.read(u)).toString()).toBe(`m${u}`);
    expect(started).toEqual(order.map((m) => m.uid));
    // Every batch but the last (the rest of the order) holds 32.
    expect(batches.slice(0, -1).every((b) => b.length === 32)).toBe(true);
  });

  it('ready() tells a body already read from one still being read, failed reads included', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const batches: number[][] = [];
    const folder = {
      read: (uid: number) => Promise.resolve(Buffer.from(`m${uid}`)),
      readMany: (uids: readonly number[]) => {
        batches.push([...uids]);
        // The first batch answers at once (message 2 fails); later ones wait for the gate.
        return uids.map((u) => (batches.length === 1 ? (u === 2 ? Promise.reject(new Error('no 2')) : Promise.resolve(Buffer.from(`m${u}`))) : gate.then(() => Buffer.from(`m${u}`))));
      },
    } as unknown as Folder;
    const ra = new BodyReadAhead(folder, Array.from({ length: 100 }, (_, i) => ({ uid: i + 1, size: 10 })));
    expect(ra.ready(1)).toBe(false); // nothing started yet
    const first = ra.read(1);
    await first;
    expect(ra.ready(1)).toBe(false); // handed out: no longer held
    expect(ra.ready(2)).toBe(true); // failed, but settled: read() answers at once (with the failure)
    expect(ra.ready(3)).toBe(true);
    expect(ra.ready(40)).toBe(false); // second batch, not answered yet
    await expect(ra.read(2)).rejects.toThrow('no 2');
    release();
    for (let u = 3; u <= 40; u++) expect((await ra.read(u)).toString()).toBe(`m${u}`);
    expect(ra.ready(41)).toBe(true);
  });

  it('holds at most 4 MiB ahead: large messages are read one or two at a time', async () => {
    const { folder, started } = fakeFolder();
    const ra = new BodyReadAhead(folder, Array.from({ length: 5 }, (_, i) => ({ uid: i + 1, size: 3 * 1024 * 1024 })));
    await ra.read(1);
    expect(started).toEqual([1, 2]); // 1 is what was asked for; 2 is the one that fits besides it, 3 would exceed the budget
    await ra.read(2);
    expect(started).toEqual([1, 2, 3]);
    // A message larger than the whole budget is still read when asked for.
    const big = fakeFolder();
    const ra2 = new BodyReadAhead(big.folder, [{ uid: 7, size: 9 * 1024 * 1024 }]);
    expect((await ra2.read(7)).toString()).toBe('m7');
  });

  it('skipping messages still reads each wanted one; unknown UIDs are read on demand', async () => {
    const { folder, started } = fakeFolder();
    const ra = new BodyReadAhead(folder, Array.from({ length: 300 }, (_, i) => ({ uid: i + 1, size: 10 })));
    await ra.read(1);
    expect((await ra.read(250)).toString()).toBe('m250');
    // Nothing between the read-ahead window of 1 and message 250 was read.
    expect(started).toEqual([...range(1, 128), ...range(250, 300)]);
    expect((await ra.read(299)).toString()).toBe('m299');
    expect((await ra.read(999)).toString()).toBe('m999');
    // Asked again after it was handed out: read on demand.
    expect((await ra.read(250)).toString()).toBe('m250');
  });

  it('a failed read fails only the message it belongs to', async () => {
    const { folder } = fakeFolder(new Set([3]));
    const ra = new BodyReadAhead(folder, Array.from({ length: 6 }, (_, i) => ({ uid: i + 1, size: 10 })));
    expect((await ra.read(1)).toString()).toBe('m1');
    await expect(ra.read(3)).rejects.toThrow('no 3');
    expect((await ra.read(4)).toString()).toBe('m4');
  });
});
