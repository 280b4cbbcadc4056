import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyzeMessage } from '../../mail-runtime/imap/message';
import { SEARCH_FIELDS } from '../../mail-runtime/imap/search';
import { MailStore } from '../../mail-runtime/store';
import { smallMessage } from './corpus';

export interface BuildResult {
  messages: number;
  bytes: number;
  /** Writing the Maildir files (no fsync: the bench does not need durability). */
  filesMs: number;
  /** Opening the folder: reconcile gives every file a UID and writes the index. */
  indexMs: number;
  /** Filling the summary cache (what ENVELOPE reads) and the search-fields records (what SEARCH SUBJECT/FROM compare), as appends would have. */
  summariesMs: number;
}

/** The `cur/` folder of a user's INBOX in the node's storage (Maildir is our on-disk format). */
export function maildirCurOf(storageRoot: string, address: string): string {
  const [local, domain] = address.split('@');
  return join(storageRoot, 'mail', domain, local, 'cur');
}

/** Runs `fn` over 0..n-1 with at most `width` in flight. */
export async function pooled(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/**
 * Builds a large INBOX for `address` the fast way: Maildir files written
 * straight into `cur/` (Maildir is our on-disk format, so this is what a
 * migration from another Maildir server looks like), then the store opens
 * the folder and its reconcile indexes them (UIDs in INTERNALDATE order),
 * then the summary cache is filled through the public `getSummary` and the
 * search-fields records through `searchFields` (written at close, as a
 * node writes them when it closes the folder). About
 * 70 % of the messages are \Seen (the `S` info letter).
 */
export async function buildLargeFolder(storageRoot: string, address: string, count: number, log: (s: string) => void): Promise<BuildResult> {
  const store = new MailStore({ root: storageRoot, analyze: analyzeMessage, searchFields: SEARCH_FIELDS });
  try {
    const user = await store.openUser(address, { epoch: 1 });
    await (await user.openFolder('INBOX')).close();
    const cur = maildirCurOf(storageRoot, address);
    await mkdir(cur, { recursive: true });

    let bytes = 0;
    const t0 = performance.now();
    const start = Date.UTC(2023, 0, 1) / 1000;
    await pooled(count, 64, async (i) => {
      const sec = start + i * 300; // one message every 5 minutes: ~347 days for 100k
      const raw = smallMessage(i, new Date(sec * 1000));
      bytes += raw.length;
      const seen = i % 10 < 7 ? 'S' : '';
      const name = `${sec}.M${String(i % 1_000_000).padStart(6, '0')}P${process.pid}Q${String(i).padStart(7, '0')}Rbench.benchhost,S=${raw.length}:2,${seen}`;
      const file = join(cur, name);
      await writeFile(file, raw);
      await utimes(file, sec, sec);
      if ((i + 1) % 25_000 === 0) log(`  files: ${i + 1}/${count}`);
    });
    const filesMs = performance.now() - t0;

    const t1 = performance.now();
    const inbox = await user.openFolder('INBOX');
    const indexMs = performance.now() - t1;
    const uids = inbox.messages().map((m) => m.uid);
    if (uids.length !== count) throw new Error(`reconcile indexed ${uids.length} of ${count} messages`);

    const t2 = performance.now();
    await pooled(uids.length, 32, async (k) => {
      await inbox.getSummary(uids[k]);
      if ((k + 1) % 25_000 === 0) log(`  summaries: ${k + 1}/${count}`);
    });
    // APPEND and delivery make each message's search-fields record with its summary; here they come from the cached summaries.
    for (let k = 0; k < uids.length; k += 5000) await inbox.searchFields(uids.slice(k, k + 5000));
    const summariesMs = performance.now() - t2;
    await inbox.close();
    await user.close();
    return { messages: count, bytes, filesMs, indexMs, summariesMs };
  } finally {
    await store.close();
  }
}
