import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeCache, CACHE_FILE, CACHE_VERSION } from '../../mail-runtime/store/index-cache';
import { MailStore, type Folder, type MessageMeta } from '../../mail-runtime/store';
import { msg, tempRoot, userDir } from './helpers';

/**
 * The binary index cache (`mailfleet/index.bin`, store/index-cache.ts): a
 * folder closed cleanly is loaded from it by the next process; a cache
 * that is damaged, of another version or older than the index files is
 * ignored and the snapshot and logs are read instead — never wrong data.
 */
const ADDR = 'cache@example.org';
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

const metaDir = (): string => path.join(userDir(root, ADDR), 'mailfleet');
const cacheFile = (): string => path.join(metaDir(), CACHE_FILE);

interface Seen {
  messages: MessageMeta[];
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
  recentUid: number | undefined;
  vanished: { uids: number[]; complete: boolean };
  counts: ReturnType<Folder['counts']>;
  stats: { hits: number; misses: number };
}

/** Opens INBOX in a new store (a new process, as far as the store knows), runs fn, closes cleanly. */
async function session(fn?: (inbox: Folder) => Promise<void>): Promise<Seen> {
  const store = new MailStore({ root });
  try {
    const user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    const seen: Seen = {
      messages: inbox.messages().map((m) => ({ ...m, flags: [...m.flags] })),
      uidNext: inbox.uidNext,
      uidValidity: inbox.uidValidity,
      highestModseq: inbox.highestModseq,
      recentUid: inbox.recentUid,
      vanished: inbox.expungedSince(1),
      counts: inbox.counts(),
      stats: { hits: store.stats.indexCacheHits, misses: store.stats.indexCacheMisses },
    };
    await fn?.(inbox);
    await inbox.close();
    await user.close();
    return seen;
  } finally {
    await store.close();
  }
}

const state = (s: Seen): Omit<Seen, 'stats'> => {
  const { stats: _stats, ...rest } = s;
  return rest;
};

/** A folder with keywords, several flag sets, an expunge and a \Recent claim, closed cleanly. */
async function populate(): Promise<void> {
  await session(async (inbox) => {
    for (let i = 1; i <= 12; i++) await inbox.append(msg(i), { flags: i % 3 === 0 ? ['\\Seen', 'Work'] : i % 2 ? ['\\Seen'] : [], internalDate: new Date(Date.UTC(2024, 0, i)) });
    await inbox.store([2, 4], 'add', ['\\Deleted', '$Important']);
    await inbox.expunge([4]);
    await inbox.claimRecent(7);
  });
}

describe('binary index cache (index.bin)', () => {
  it('round trip: the next process loads exactly what the snapshot and logs say, from the cache', async () => {
    await populate();
    expect(fs.existsSync(cacheFile())).toBe(true);
    const fromCache = await session();
    expect(fromCache.stats).toEqual({ hits: 1, misses: 0 });
    // The same folder read the long way (no cache): identical, field by field.
    await fs.promises.rm(cacheFile());
    const fromJson = await session();
    expect(fromJson.stats).toEqual({ hits: 0, misses: 1 });
    expect(state(fromCache)).toEqual(state(fromJson));
    expect(fromCache.messages).toHaveLength(11);
    expect(fromCache.recentUid).toBe(7);
    expect(fromCache.vanished.uids).toEqual([4]);
    expect(fromCache.messages.find((m) => m.uid === 2)?.flags).toEqual(['\\Deleted', '$Important']);
    // Written again at that close, and used again.
    expect((await session()).stats.hits).toBe(1);
  });

  it('a close with nothing written since the cache was read leaves it as it is; a write makes the close rewrite it', async () => {
    await populate();
    await session();
    const id = (): string => {
      const st = fs.statSync(cacheFile(), { bigint: true });
      return `${st.ino}/${st.mtimeNs}`;
    };
    const before = id();
    expect((await session()).stats.hits).toBe(1);
    expect(id()).toBe(before);
    await session(async (inbox) => {
      await inbox.store([1], 'add', ['\\Flagged']);
    });
    expect(id()).not.toBe(before);
    const s = await session();
    expect(s.stats.hits).toBe(1);
    expect(s.messages.find((m) => m.uid === 1)?.flags).toContain('\\Flagged');
  });

  it('a folder loaded from the cache keeps working: its next writes and the reopen after them agree', async () => {
    await populate();
    const before = await session(async (inbox) => {
      await inbox.append(msg(20), { flags: ['\\Flagged'] });
      await inbox.store([1], 'remove', ['\\Seen']);
    });
    expect(before.stats.hits).toBe(1);
    const after = await session();
    await fs.promises.rm(cacheFile());
    const long = await session();
    expect(state(after)).toEqual(state(long));
    expect(after.messages.map((m) => m.uid)).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('a damaged cache (any byte flipped, truncated) is ignored: the snapshot and logs are read, nothing differs', async () => {
    await populate();
    const good = await fs.promises.readFile(cacheFile());
    const expected = state(await session());
    // Positions across the fixed head, the JSON header and the binary body.
    for (const at of [0, 5, 13, 20, Math.floor(good.length / 2), good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ 0x5a;
      await fs.promises.writeFile(cacheFile(), bad);
      const s = await session(async () => undefined);
      expect(s.stats, `byte ${at}`).toEqual({ hits: 0, misses: 1 });
      expect(state(s)).toEqual(expected);
    }
    await fs.promises.writeFile(cacheFile(), good.subarray(0, good.length - 7));
    const t = await session();
    expect(t.stats).toEqual({ hits: 0, misses: 1 });
    expect(state(t)).toEqual(expected);
  });

  it('another format version is ignored; so is a cache older than the index files (a write after it)', async () => {
    await populate();
    const good = await fs.promises.readFile(cacheFile());
    const other = Buffer.from(good);
    other.writeUInt32LE(CACHE_VERSION + 1, 4);
    expect(decodeCache(other)).toEqual({ miss: 'version' });
    expect('loaded' in decodeCache(good)).toBe(true);
    await fs.promises.writeFile(cacheFile(), other);
    expect((await session()).stats).toEqual({ hits: 0, misses: 1 });

    // Stale: the cache of an earlier state put back after the log moved on (as if the process had crashed before writing a new one).
    await session();
    const old = await fs.promises.readFile(cacheFile());
    await session(async (inbox) => {
      await inbox.append(msg(30), { flags: ['\\Seen'] });
      await inbox.expunge([1], { force: true });
    });
    await fs.promises.writeFile(cacheFile(), old);
    const s = await session();
    expect(s.stats).toEqual({ hits: 0, misses: 1 });
    expect(s.messages.map((m) => m.uid)).toContain(13);
    expect(s.messages.map((m) => m.uid)).not.toContain(1);
  });

  it('a takeover by a newer epoch reads the old owner\'s cache only as the source it is, then writes its own', async () => {
    await populate();
    const store = new MailStore({ root });
    try {
      const user = await store.openUser(ADDR, { epoch: 2 });
      const inbox = await user.openFolder('INBOX');
      // The epoch-1 cache still names the epoch-1 files, which are exactly what was read: a valid source for the takeover.
      expect(inbox.messages()).toHaveLength(11);
      await inbox.close();
      await user.close();
    } finally {
      await store.close();
    }
    const raw = decodeCache(await fs.promises.readFile(cacheFile()));
    expect('header' in raw && raw.header.snapshotEpoch).toBe(2);
  });

  it('carries the accepted delivery ids: a repeat after a reopen from the cache is still recognised', async () => {
    const first = await session(async (inbox) => {
      await inbox.append(msg(1), { deliveryId: 'queueentry0001' });
    });
    expect(first.messages).toHaveLength(0);
    let repeat: Awaited<ReturnType<Folder['append']>> | undefined;
    const reopened = await session(async (inbox) => {
      repeat = await inbox.append(msg(1), { deliveryId: 'queueentry0001' });
    });
    expect(reopened.stats.hits).toBe(1);
    expect(reopened.messages).toHaveLength(1);
    expect(repeat).toMatchObject({ uid: reopened.messages[0]!.uid, duplicate: true });
    const after = await session();
    expect(after.messages).toHaveLength(1);
  });
});

describe('running counts (Folder.counts)', () => {
  it('follow APPEND, STORE and EXPUNGE from two handles on the folder, and agree with a recount', async () => {
    const store = new MailStore({ root });
    try {
      const user = await store.openUser(ADDR, { epoch: 1 });
      const a = await user.openFolder('INBOX');
      const b = await user.openFolder('INBOX');
      const recount = (f: Folder) => {
        const m = f.messages();
        return {
          messages: m.length,
          unseen: m.filter((x) => !x.flags.includes('\\Seen')).length,
          deleted: m.filter((x) => x.flags.includes('\\Deleted')).length,
          bytes: m.reduce((n, x) => n + x.size, 0),
        };
      };
      expect(a.counts()).toEqual({ messages: 0, unseen: 0, deleted: 0, bytes: 0 });
      await a.appendMany([1, 2, 3, 4, 5].map((i) => ({ raw: msg(i), opts: { flags: i % 2 ? ['\\Seen'] : [] } })));
      await b.append(msg(6));
      expect(b.counts()).toMatchObject({ messages: 6, unseen: 3, deleted: 0 });
      await Promise.all([a.store([1, 2], 'add', ['\\Deleted']), b.store([2, 4], 'add', ['\\Seen'])]);
      expect(a.counts()).toMatchObject({ messages: 6, unseen: 1, deleted: 2 });
      await b.store([1], 'replace', ['Work']);
      expect(a.counts()).toMatchObject({ unseen: 2, deleted: 1 });
      expect(a.counts()).toEqual(recount(a));
      await a.expunge();
      expect(b.counts()).toEqual({ ...recount(b), messages: 5 });
      await b.expunge([6], { force: true });
      expect(a.counts()).toEqual(recount(a));
      expect(a.counts()).toMatchObject({ messages: 4, unseen: 1, deleted: 0 });
      await a.close();
      await b.close();
      await user.close();
    } finally {
      await store.close();
    }
    // Loaded from the cache: counted while decoding; the same numbers.
    const s = await session();
    expect(s.stats.hits).toBe(1);
    expect(s.counts).toMatchObject({ messages: 4, unseen: 1, deleted: 0 });
  });
});
