import { describe, expect, it } from 'vitest';
import { BodyReadAhead } from '../../../mail-runtime/imap/commands/read-ahead';
import type { Folder } from '../../../mail-runtime/store';

/** A folder whose reads are counted and never touch a disk. */
function fakeFolder() {
  const started: number[] = [];
  const folder = { read: (uid: number) => (started.push(uid), Promise.resolve(Buffer.from(`m${uid}`))) } as unknown as Folder;
  return { folder, started };
}

describe('BodyReadAhead', () => {
  it('reads up to 8 small messages ahead, each once, in order', async () => {
    const { folder, started } = fakeFolder();
    const order = Array.from({ length: 20 }, (_, i) => ({ uid: i + 1, size: 1000 }));
    const ra = new BodyReadAhead(folder, order);
    expect((await ra.read(1)).toString()).toBe('m1');
    expect(started).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let u = 2; u <= 20; u++) expect((await ra.read(u)).toString()).toBe(`m${u}`);
    expect(started).toEqual(order.map((m) => m.uid));
  });

  it('holds at most 4 MiB ahead: large messages are read one or two at a time', async () => {
    const { folder, started } = fakeFolder();
    const ra = new BodyReadAhead(folder, Array.from({ length: 5 }, (_, i) => ({ uid: i + 1, size: 3 * 1024 * 1024 })));
    await ra.read(1);
    expect(started).toEqual([1]); // 1 is what was asked for; 2 would exceed the byte budget
    await ra.read(2);
    expect(started).toEqual([1, 2]);
  });

  it('skipping messages still reads each wanted one; unknown UIDs are read on demand', async () => {
    const { folder, started } = fakeFolder();
    const ra = new BodyReadAhead(folder, Array.from({ length: 30 }, (_, i) => ({ uid: i + 1, size: 10 })));
    await ra.read(1);
    expect((await ra.read(25)).toString()).toBe('m25');
    // Nothing between the read-ahead window of 1 and message 25 was read.
    expect(started).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 25, 26, 27, 28, 29, 30]);
    expect((await ra.read(99)).toString()).toBe('m99');
  });
});
