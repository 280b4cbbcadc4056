import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore, type Folder } from '../../mail-runtime/store';
import { FIELDS_FILE } from '../../mail-runtime/store/fields-cache';
import type { SearchFieldsDeriver } from '../../mail-runtime/store/types';
import { msg, tempRoot, userDir, withInbox as inboxOf } from './helpers';

/**
 * The search-fields records (`mailfleet/search-fields.bin`, store/fields-cache.ts):
 * made when a message is appended, remembered while the folder is open,
 * written at a clean close and read back by the next process; anything
 * stale — another deriver version, a damaged file, an expunged message —
 * is never used (the record is derived again from the summary).
 */
const ADDR = 'fields@example.org';
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

const analyze = (raw: Buffer): unknown => ({ subject: /Subject: (.*)\r\n/.exec(raw.toString())?.[1] ?? '' });

/** A deriver that counts its calls; `tag` stands for what it would compute differently in another version. */
function deriver(version: string, tag = ''): SearchFieldsDeriver & { calls: number } {
  const d = {
    version,
    calls: 0,
    derive(summary: unknown): readonly string[] | null {
      d.calls++;
      const s = (summary as { subject?: unknown }).subject;
      return typeof s === 'string' ? [`${tag}${s.toLowerCase()}`] : null;
    },
  };
  return d;
}

const fieldsFile = (): string => path.join(userDir(root, ADDR), 'mailfleet', FIELDS_FILE);

const withInbox = <T>(d: SearchFieldsDeriver, fn: (inbox: Folder) => Promise<T>): Promise<T> =>
  inboxOf(root, ADDR, (inbox) => fn(inbox), { store: { analyze, searchFields: d } });

const uidsOf = (inbox: Folder): number[] => inbox.messages().map((m) => m.uid);
const recordsOf = async (inbox: Folder): Promise<Record<number, readonly string[]>> => Object.fromEntries(await inbox.searchFields(uidsOf(inbox)));

describe('search-fields records (store/fields-cache.ts)', () => {
  it('are made at APPEND, survive a clean close and are read back without deriving again', async () => {
    const d1 = deriver('v1');
    const first = await withInbox(d1, async (inbox) => {
      for (let i = 0; i < 5; i++) await inbox.append(msg(`Nr ${i}`));
      expect(d1.calls).toBe(5); // one per appended message
      const r = await recordsOf(inbox);
      expect(d1.calls).toBe(5); // the search asked for none again
      return r;
    });
    expect(Object.values(first)).toEqual([0, 1, 2, 3, 4].map((i) => [`test nr ${i}`]));
    expect(fs.existsSync(fieldsFile())).toBe(true);
    const d2 = deriver('v1');
    const again = await withInbox(d2, recordsOf);
    expect(again).toEqual(first);
    expect(d2.calls).toBe(0);
  });

  it('of another deriver version are never used', async () => {
    await withInbox(deriver('v1', 'old:'), async (inbox) => {
      for (let i = 0; i < 3; i++) await inbox.append(msg(i));
    });
    const d = deriver('v2');
    const got = await withInbox(d, recordsOf);
    expect(Object.values(got)).toEqual([0, 1, 2].map((i) => [`test ${i}`]));
    expect(d.calls).toBe(3);
    // …and the file now holds the new version's records.
    const d3 = deriver('v2');
    expect(await withInbox(d3, recordsOf)).toEqual(got);
    expect(d3.calls).toBe(0);
  });

  it('from a damaged file are ignored and derived again', async () => {
    await withInbox(deriver('v1', 'kept:'), async (inbox) => {
      for (let i = 0; i < 3; i++) await inbox.append(msg(i));
    });
    // Same length, one byte changed inside the JSON: the checksum no longer holds.
    const buf = await fs.promises.readFile(fieldsFile());
    const at = buf.indexOf('kept:');
    expect(at).toBeGreaterThan(0);
    buf[at] = 'K'.charCodeAt(0);
    await fs.promises.writeFile(fieldsFile(), buf);
    const d = deriver('v1');
    const got = await withInbox(d, recordsOf);
    expect(Object.values(got)).toEqual([0, 1, 2].map((i) => [`test ${i}`]));
    expect(d.calls).toBe(3);
  });

  it('of expunged messages leave the file; a message without a record gets one from its summary', async () => {
    await withInbox(deriver('v1'), async (inbox) => {
      for (let i = 0; i < 4; i++) await inbox.append(msg(i));
      const [a, b] = uidsOf(inbox);
      await inbox.store([a!, b!], 'add', ['\\Deleted']);
      await inbox.expunge();
    });
    const text = (await fs.promises.readFile(fieldsFile())).toString('utf8');
    expect(text).not.toContain('test 0');
    expect(text).not.toContain('test 1');
    expect(text).toContain('test 3');
    // A store without the deriver appends one more: no record for it.
    const plain = new MailStore({ root, analyze });
    try {
      const inbox = await (await plain.openUser(ADDR, { epoch: 1 })).openFolder('INBOX');
      await inbox.append(msg(9));
      await inbox.close();
    } finally {
      await plain.close();
    }
    const d = deriver('v1');
    const got = await withInbox(d, recordsOf);
    expect(Object.values(got)).toEqual([['test 2'], ['test 3'], ['test 9']]);
    expect(d.calls).toBe(1);
  });
});
