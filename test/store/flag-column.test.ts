/**
 * The flag column (store/index-state.ts FlagColumn, Folder.flagColumn()):
 * the folder's UIDs and flag bits as typed arrays, position for position
 * with messages(). SEARCH on flags reads it instead of the metadata, so it
 * must follow every commit (APPEND, STORE +FLAGS/-FLAGS/replace, EXPUNGE)
 * and come back the same after a reload, from index.bin or from the
 * snapshot and logs (it is derived in memory; nothing on disk changed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Folder } from '../../mail-runtime/store';
import { msg, tempRoot, userDir, withInbox } from './helpers';

const ADDR = 'col@example.org';
let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => {
  await cleanup();
});

/** The bits the column must hold for a flag list (index-state.ts FLAG_*), written out here rather than taken from the code under test. */
const BIT: Record<string, number> = { '\\Seen': 1, '\\Deleted': 2, '\\Flagged': 4, '\\Answered': 8, '\\Draft': 16 };
const KEYWORD = 32;
function expectedBits(flags: readonly string[]): number {
  return flags.reduce((b, f) => b | (BIT[f] ?? KEYWORD), 0);
}

/** The column as plain arrays, and what messages() says it must be. */
function column(f: Folder): { got: Array<[number, number]>; want: Array<[number, number]> } {
  const c = f.flagColumn();
  return {
    got: Array.from(c.uids, (uid, i) => [uid, c.bits[i]!]),
    want: f.messages().map((m) => [m.uid, expectedBits(m.flags)]),
  };
}

function expectInStep(f: Folder): void {
  const { got, want } = column(f);
  expect(got).toEqual(want);
}

describe('the flag column', () => {
  it('follows APPEND, STORE (add, remove, replace, any spelling) and EXPUNGE, past its first capacity', async () => {
    await withInbox(root, ADDR, async (f) => {
      expectInStep(f);
      await f.append(msg(1), { flags: ['\\Seen'] });
      await f.append(msg(2));
      await f.append(msg(3), { flags: ['\\flagged', 'Work'] });
      await f.append(msg(4), { flags: ['\\Seen', '\\Deleted', '\\Answered', '\\Draft'] });
      expectInStep(f);
      expect(Array.from(f.flagColumn().bits)).toEqual([1, 0, 4 | KEYWORD, 1 | 2 | 8 | 16]);
      const held = f.flagColumn();
      await f.store([2], 'add', ['\\SEEN']);
      await f.store([1], 'remove', ['\\Seen']);
      await f.store([3], 'replace', ['$Junk']);
      expectInStep(f);
      expect(Array.from(f.flagColumn().bits)).toEqual([0, 1, KEYWORD, 1 | 2 | 8 | 16]);
      // A column handed out earlier is a snapshot: later commits copy before they change it.
      expect(Array.from(held.bits)).toEqual([1, 0, 4 | KEYWORD, 1 | 2 | 8 | 16]);
      expect(await f.expunge()).toEqual([4]);
      expectInStep(f);
      // More than the column's first capacity (16), in one batch and one by one.
      await f.appendMany(Array.from({ length: 30 }, (_, i) => ({ raw: msg(`many${i}`), opts: { flags: i % 3 === 0 ? ['\\Seen'] : [] } })));
      for (let i = 0; i < 5; i++) await f.append(msg(`one${i}`), { flags: ['\\Flagged'] });
      expectInStep(f);
      expect(f.flagColumn().uids.length).toBe(38);
      await f.store(
        f.messages().filter((_, i) => i % 2 === 0).map((m) => m.uid),
        'add',
        ['\\Deleted'],
      );
      await f.expunge(f.messages().slice(0, 10).map((m) => m.uid));
      expectInStep(f);
      expect(f.flagColumn().uids.length).toBe(33);
    });
  });

  it('comes back the same after a reload, from index.bin and from the snapshot and logs', async () => {
    const before = await withInbox(root, ADDR, async (f) => {
      for (let i = 0; i < 20; i++) await f.append(msg(i), { flags: i % 4 === 0 ? ['\\Seen', 'Later'] : i % 4 === 1 ? ['\\Deleted'] : [] });
      await f.store([3, 7], 'add', ['\\Seen']);
      await f.expunge([2]);
      expectInStep(f);
      return column(f).got;
    });
    // Clean close wrote index.bin: the next open reads it.
    await withInbox(root, ADDR, async (f) => {
      expectInStep(f);
      expect(column(f).got).toEqual(before);
    });
    // Without index.bin: the snapshot and logs.
    await fs.promises.rm(path.join(userDir(root, ADDR), 'mailfleet', 'index.bin'));
    await withInbox(root, ADDR, async (f) => {
      expectInStep(f);
      expect(column(f).got).toEqual(before);
      await f.store([1], 'remove', ['\\Seen']);
      expectInStep(f);
    });
  });
});
