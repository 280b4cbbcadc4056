import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore, type Folder } from '../../mail-runtime/store';
import { COMPACT_MIN_DEAD } from '../../mail-runtime/store/summary-cache';
import { msg, tempRoot, userDir } from './helpers';

/**
 * The summary cache (`mailfleet/summaries.jsonl`) drops the lines of
 * expunged messages: it is compacted once its dead lines are at least
 * COMPACT_MIN_DEAD and as many as the live ones, with a crash-safe rewrite,
 * and keeps answering right.
 */
const ADDR = 'cache@example.org';
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot({ memory: true }));
});
afterEach(async () => cleanup());

/** A deterministic analyzer: what a summary must be for a message. */
const analyze = (raw: Buffer): unknown => ({ subject: /Subject: (.*)\r\n/.exec(raw.toString())?.[1], length: raw.length, pad: 'x'.repeat(200) });

const cacheFile = (): string => path.join(userDir(root, ADDR), 'mailfleet', 'summaries.jsonl');
const size = async (): Promise<number> => (await fs.promises.stat(cacheFile())).size;

async function withInbox<T>(fn: (inbox: Folder, store: MailStore) => Promise<T>): Promise<T> {
  const store = new MailStore({ root, analyze });
  try {
    const user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    try {
      return await fn(inbox, store);
    } finally {
      await inbox.close();
      await user.close();
    }
  } finally {
    // Closing waits for a compaction in progress.
    await store.close();
  }
}

async function fill(inbox: Folder, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) await inbox.append(msg(i));
}

async function expectRightSummaries(inbox: Folder, store: MailStore): Promise<void> {
  const calls = store.stats.analyzerCalls;
  const uids = inbox.messages().map((m) => m.uid);
  const got = await inbox.getSummaries(uids);
  expect(got.size).toBe(uids.length);
  for (const uid of uids) expect(got.get(uid)).toEqual(analyze(await inbox.read(uid)));
  // Every one came from the cache: nothing was analysed again.
  expect(store.stats.analyzerCalls).toBe(calls);
}

describe('summary cache compaction', () => {
  it('the file shrinks after expunges and every remaining summary is still right, from the cache', { timeout: 120_000 }, async () => {
    const total = COMPACT_MIN_DEAD + 144;
    const before = await withInbox(async (inbox) => {
      await fill(inbox, 1, total);
      return size();
    });
    const live = 100;
    await withInbox(async (inbox) => {
      const gone = inbox.messages().slice(0, total - live).map((m) => m.uid);
      expect(await inbox.expunge(gone, { force: true })).toHaveLength(total - live);
    });
    const after = await size();
    // The live lines alone, about live/total of the old file (lines have about the same length).
    expect(after).toBeLessThan((before * live) / total + 1024);
    expect(after).toBeGreaterThan((before * live) / total - 1024);
    await withInbox(async (inbox, store) => {
      expect(inbox.messages()).toHaveLength(live);
      await expectRightSummaries(inbox, store);
      // And the compacted file takes appends as before.
      await fill(inbox, total + 1, 3);
      await expectRightSummaries(inbox, store);
    });
  });

  it('bounded growth: deliver-and-expunge cycles keep the file within about twice its live size', { timeout: 120_000 }, async () => {
    const keep = 20;
    let next = 1;
    let lineBytes = 0;
    const sizes: number[] = [];
    for (let cycle = 0; cycle < 5; cycle++) {
      await withInbox(async (inbox) => {
        await fill(inbox, next, COMPACT_MIN_DEAD);
        next += COMPACT_MIN_DEAD;
        // Everything but the newest `keep` goes, as a busy INBOX whose mail is read and deleted.
        const msgs = inbox.messages();
        await inbox.expunge(
          msgs.slice(0, msgs.length - keep).map((m) => m.uid),
          { force: true },
        );
      });
      const s = await size();
      lineBytes ||= s / keep;
      sizes.push(s);
    }
    // Without compaction this would hold 5 * COMPACT_MIN_DEAD lines.
    for (const s of sizes) expect(s).toBeLessThanOrEqual(2 * keep * lineBytes + 1024);
    await withInbox(async (inbox, store) => expectRightSummaries(inbox, store));
  });

  it('dead lines a previous process left are compacted by the next one; a torn tail and a half-done compaction are cleaned up', { timeout: 120_000 }, async () => {
    await withInbox(async (inbox) => {
      await fill(inbox, 1, COMPACT_MIN_DEAD + 10);
    });
    const full = await size();
    // The messages vanish while no process has the folder open (removed by hand, or by
    // a process that died before compacting): reconcile expunges them on the next open.
    const cur = path.join(userDir(root, ADDR), 'cur');
    const files = (await fs.promises.readdir(cur)).sort();
    for (const f of files.slice(0, COMPACT_MIN_DEAD)) await fs.promises.rm(path.join(cur, f));
    const meta = path.join(userDir(root, ADDR), 'mailfleet');
    const tmp = path.join(meta, '.summaries.jsonl.999.deadbeef.tmp');
    await fs.promises.writeFile(tmp, 'half a compaction');
    await fs.promises.appendFile(cacheFile(), 'torn-base\t{"subj');
    await withInbox(async (inbox, store) => {
      expect(inbox.messages()).toHaveLength(10);
      await expectRightSummaries(inbox, store);
    });
    expect(fs.existsSync(tmp)).toBe(false);
    expect(await size()).toBeLessThan(full / 10);
    await withInbox(async (inbox, store) => expectRightSummaries(inbox, store));
  });
});
