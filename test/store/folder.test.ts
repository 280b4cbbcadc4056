import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore, StoreError, type UserMailbox } from '../../mail-runtime/store';
import { msg, tempRoot, userDir } from './helpers';

const ADDR = 'ann@example.org';
let root: string;
let cleanup: () => Promise<void>;
let store: MailStore;
let user: UserMailbox;

async function reopen(): Promise<void> {
  await store.close();
  store = new MailStore({ root });
  user = await store.openUser(ADDR, { epoch: 1 });
}

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = new MailStore({ root });
  user = await store.openUser(ADDR, { epoch: 1 });
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

describe('append and read', () => {
  it('stores a message durably and reads it back after reopen with the same UID', async () => {
    const inbox = await user.openFolder('INBOX');
    const date = new Date('2024-05-01T10:00:00Z');
    const r1 = await inbox.append(msg(1), { flags: ['\\Seen', 'Work'], internalDate: date });
    const r2 = await inbox.append(msg(2));
    expect(r1.uid).toBe(1);
    expect(r2.uid).toBe(2);
    expect(r1.uidValidity).toBe(inbox.uidValidity);
    const validity = inbox.uidValidity;
    await reopen();
    const again = await user.openFolder('inbox');
    expect(again.name).toBe('INBOX');
    expect(again.uidValidity).toBe(validity);
    expect(again.uidNext).toBe(3);
    const list = again.messages();
    expect(list.map((m) => m.uid)).toEqual([1, 2]);
    expect(list[0].flags).toEqual(['\\Seen', 'Work']);
    expect(list[0].internalDate.getTime()).toBe(date.getTime());
    expect(list[0].size).toBe(msg(1).length);
    expect((await again.read(1)).equals(msg(1))).toBe(true);
    expect((await again.read(2)).equals(msg(2))).toBe(true);
  });

  it('writes a Maildir a Dovecot reader understands: file in cur/ with :2,<letters> and ,S=<size>, mtime = internal date', async () => {
    const inbox = await user.openFolder('INBOX');
    const date = new Date('2023-01-02T03:04:05Z');
    await inbox.append(msg(1), { flags: ['\\Seen', '\\Flagged', '\\Draft'], internalDate: date });
    const dir = userDir(root, ADDR);
    const files = await fs.promises.readdir(path.join(dir, 'cur'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`,S=${msg(1).length}:2,DFS$`));
    const st = await fs.promises.stat(path.join(dir, 'cur', files[0]));
    expect(Math.floor(st.mtimeMs / 1000)).toBe(date.getTime() / 1000);
    expect(await fs.promises.readdir(path.join(dir, 'tmp'))).toEqual([]);
    expect(await fs.promises.readdir(path.join(dir, 'new'))).toEqual([]);
  });

  it('refuses too big, bad flags and unknown UIDs with StoreError codes', async () => {
    await store.close();
    store = new MailStore({ root, maxMessageBytes: 4096 });
    user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    await expect(inbox.append(Buffer.alloc(4097, 0x61))).rejects.toMatchObject({ code: 'TOOBIG' });
    expect((await inbox.append(Buffer.alloc(4096, 0x61))).uid).toBe(1);
    await expect(inbox.append(msg(1), { flags: ['\\Bogus'] })).rejects.toMatchObject({ code: 'CANNOT' });
    await expect(inbox.append(msg(1), { flags: ['bad keyword'] })).rejects.toMatchObject({ code: 'CANNOT' });
    await expect(inbox.read(99)).rejects.toBeInstanceOf(StoreError);
    await expect(inbox.read(99)).rejects.toMatchObject({ code: 'NONEXISTENT' });
    expect(inbox.messages()).toHaveLength(1);
  });
});

describe('flags and modseq (RFC 7162)', () => {
  it('add/remove/replace, survive reopen, rename the file info letters, bump HIGHESTMODSEQ', async () => {
    const inbox = await user.openFolder('INBOX');
    await inbox.append(msg(1));
    await inbox.append(msg(2));
    const before = inbox.highestModseq;
    const r = await inbox.store([1, 2], 'add', ['\\Seen', '$Label1']);
    expect(r.changed.map((m) => m.uid)).toEqual([1, 2]);
    expect(inbox.highestModseq).toBeGreaterThan(before);
    expect(r.changed[0].modseq).toBe(inbox.highestModseq);
    await inbox.store([2], 'remove', ['\\seen']);
    const noop = await inbox.store([1], 'add', ['\\SEEN']);
    expect(noop.changed).toEqual([]);
    await inbox.store([1], 'replace', ['\\Answered', '$Label1']);
    const hm = inbox.highestModseq;
    await reopen();
    const again = await user.openFolder('INBOX');
    expect(again.highestModseq).toBe(hm);
    expect(again.get(1)?.flags).toEqual(['\\Answered', '$Label1']);
    expect(again.get(2)?.flags).toEqual(['$Label1']);
    // System flag letters, then the keyword's letter from dovecot-keywords ($Label1 got `a`).
    const files = (await fs.promises.readdir(path.join(userDir(root, ADDR), 'cur'))).sort();
    expect(files.filter((f) => f.endsWith(':2,Ra'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith(':2,a'))).toHaveLength(1);
    expect(await fs.promises.readFile(path.join(userDir(root, ADDR), 'dovecot-keywords'), 'utf8')).toBe('0 $Label1\n');
  });

  it('UNCHANGEDSINCE refuses messages modified later', async () => {
    const inbox = await user.openFolder('INBOX');
    await inbox.append(msg(1));
    await inbox.append(msg(2));
    const since = inbox.get(1)!.modseq;
    await inbox.store([2], 'add', ['x']);
    const r = await inbox.store([1, 2], 'add', ['\\Flagged'], { unchangedSince: since });
    expect(r.failedUnchangedSince).toEqual([2]);
    expect(r.changed.map((m) => m.uid)).toEqual([1]);
    expect(inbox.get(2)!.flags).toEqual(['x']);
  });

  it('emits events to every session sharing the folder', async () => {
    const a = await user.openFolder('INBOX');
    const other = await store.openUser(ADDR, { epoch: 1 });
    const b = await other.openFolder('INBOX');
    expect(b).not.toBe(a); // each opener has its own handle on the one shared folder
    const seen: string[] = [];
    b.on('exists', (u) => seen.push(`exists ${u.join(',')}`));
    b.on('flags', (c) => seen.push(`flags ${c.uid} ${c.flags.join(' ')} ${c.modseq > 0}`));
    b.on('expunge', (u) => seen.push(`expunge ${u.join(',')}`));
    await a.append(msg(1));
    await a.store([1], 'add', ['\\Deleted']);
    await a.expunge();
    expect(seen).toEqual(['exists 1', 'flags 1 \\Deleted true', 'expunge 1']);
    expect(b.uidNext).toBe(2);
    await b.close();
    await a.close();
    await other.close();
  });
});

describe('expunge, copy, move', () => {
  it('expunge removes only \\Deleted (or given ones with force) and is durable', async () => {
    const inbox = await user.openFolder('INBOX');
    for (let i = 1; i <= 4; i++) await inbox.append(msg(i));
    await inbox.store([1, 3], 'add', ['\\Deleted']);
    expect(await inbox.expunge([3, 4])).toEqual([3]); // UID EXPUNGE semantics
    expect(await inbox.expunge()).toEqual([1]);
    expect(await inbox.expunge([4], { force: true })).toEqual([4]);
    const hm = inbox.highestModseq;
    await reopen();
    const again = await user.openFolder('INBOX');
    expect(again.messages().map((m) => m.uid)).toEqual([2]);
    expect(again.uidNext).toBe(5);
    expect(again.highestModseq).toBe(hm);
    expect(await fs.promises.readdir(path.join(userDir(root, ADDR), 'cur'))).toHaveLength(1);
    await expect(again.read(1)).rejects.toMatchObject({ code: 'NONEXISTENT' });
  });

  it('copy keeps flags and dates, move expunges sources; both survive reopen', async () => {
    const inbox = await user.openFolder('INBOX');
    const archive = await user.openFolder('Archive');
    const d = new Date('2022-02-02T00:00:00Z');
    await inbox.append(msg(1), { flags: ['\\Seen'], internalDate: d });
    await inbox.append(msg(2));
    await inbox.append(msg(3));
    const c = await inbox.copy([1, 2, 77], archive);
    expect(c).toEqual({ uidValidity: archive.uidValidity, pairs: [[1, 1], [2, 2]] });
    const m = await inbox.move([3], archive);
    expect(m.pairs).toEqual([[3, 3]]);
    expect(inbox.messages().map((x) => x.uid)).toEqual([1, 2]);
    await reopen();
    const a2 = await user.openFolder('Archive');
    const i2 = await user.openFolder('INBOX');
    expect(a2.messages().map((x) => x.uid)).toEqual([1, 2, 3]);
    expect(a2.get(1)!.flags).toEqual(['\\Seen']);
    expect(a2.get(1)!.internalDate.getTime()).toBe(d.getTime());
    expect((await a2.read(3)).equals(msg(3))).toBe(true);
    expect(i2.messages().map((x) => x.uid)).toEqual([1, 2]);
    // a copy is independent of its source
    await i2.store([1], 'add', ['\\Deleted']);
    await i2.expunge();
    expect((await a2.read(1)).equals(msg(1))).toBe(true);
  });
});

describe('analysis cache', () => {
  it('caches the analyzer result at append; getSummary does not re-read the body, survives reopen and copy', async () => {
    await store.close();
    let calls = 0;
    const analyze = (raw: Buffer) => {
      calls++;
      return { subject: /Subject: (.*)\r\n/.exec(raw.toString())?.[1], len: raw.length };
    };
    store = new MailStore({ root, analyze });
    user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    await inbox.append(msg(1));
    expect(calls).toBe(1);
    const reads = store.stats.messageReads;
    expect(await inbox.getSummary(1)).toEqual({ subject: 'test 1', len: msg(1).length });
    expect(store.stats.messageReads).toBe(reads);
    await inbox.copy([1], await user.openFolder('Sent'));
    await store.close();
    store = new MailStore({ root, analyze });
    user = await store.openUser(ADDR, { epoch: 1 });
    const sent = await user.openFolder('Sent');
    expect(await sent.getSummary(1)).toEqual({ subject: 'test 1', len: msg(1).length });
    expect(calls).toBe(1);
    expect(store.stats.messageReads).toBe(0);
  });

  it('accepts an async analyzer (mailparser is async) and caches its resolved value', async () => {
    await store.close();
    store = new MailStore({ root, analyze: async (raw) => ({ lines: raw.toString().split('\r\n').length }) });
    user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    await inbox.append(msg(1));
    expect(await inbox.getSummary(1)).toEqual({ lines: 7 });
    expect(store.stats.messageReads).toBe(0);
  });

  it('computes lazily for messages that arrived by hand and caches it', async () => {
    await store.close();
    let calls = 0;
    store = new MailStore({ root, analyze: (raw) => ({ n: ++calls, size: raw.length }) });
    user = await store.openUser(ADDR, { epoch: 1 });
    await fs.promises.writeFile(path.join(userDir(root, ADDR), 'new', '123.hand.host'), msg(9));
    const inbox = await user.openFolder('INBOX');
    expect(calls).toBe(0);
    expect(await inbox.getSummary(1)).toEqual({ n: 1, size: msg(9).length });
    expect(await inbox.getSummary(1)).toEqual({ n: 1, size: msg(9).length });
    expect(calls).toBe(1);
  });
});

describe('getSummaries (bulk, for SEARCH)', () => {
  it('returns cached summaries for many UIDs without reading bodies, computes missing ones, skips expunged UIDs', async () => {
    await store.close();
    let calls = 0;
    store = new MailStore({ root, analyze: (raw) => ({ n: ++calls, subject: /Subject: (.*)\r\n/.exec(raw.toString())?.[1] }) });
    user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    for (let i = 1; i <= 40; i++) await inbox.append(msg(i));
    // One message arrives by hand (no cache entry yet).
    await fs.promises.writeFile(path.join(userDir(root, ADDR), 'new', '999.hand.host'), msg('hand'));
    await inbox.refresh();
    await inbox.store([5], 'add', ['\\Deleted']);
    await inbox.expunge();
    const reads = store.stats.messageReads;
    const all = inbox.messages().map((m) => m.uid);
    const got = await inbox.getSummaries([...all, 5, 12345]);
    expect([...got.keys()].sort((a, b) => a - b)).toEqual(all);
    expect(got.get(1)).toEqual({ n: 1, subject: 'test 1' });
    expect(got.get(40)).toEqual({ n: 40, subject: 'test 40' });
    expect(got.get(all[all.length - 1]!)).toEqual({ n: 41, subject: 'test hand' });
    // Only the hand-delivered message needed its body.
    expect(store.stats.messageReads - reads).toBe(1);
    expect(calls).toBe(41);
  });
});

describe('log compaction', () => {
  it('folds a long log into a snapshot of the next generation; reopen sees the same state', async () => {
    const inbox = await user.openFolder('INBOX');
    for (let i = 1; i <= 3; i++) await inbox.append(msg(i));
    const meta = path.join(userDir(root, ADDR), 'mailfleet');
    expect(fs.readdirSync(meta)).toContain('index.1.0.log');
    // 1,200 flag changes, concurrently so group commit keeps this quick
    const results = await Promise.all(Array.from({ length: 1200 }, (_, i) => inbox.store([1 + (i % 3)], 'replace', [`k${i}`, '\\Seen'])));
    expect(results.every((r) => r.changed.length === 1)).toBe(true);
    await inbox.refresh(); // queued behind the compaction that follows the last batch
    const snapshotState = inbox.messages().map((m) => [m.uid, [...m.flags].sort(), m.modseq]);
    const hm = inbox.highestModseq;
    const files = fs.readdirSync(meta);
    expect(files).not.toContain('index.1.0.log');
    expect(JSON.parse(fs.readFileSync(path.join(meta, 'snapshot.1.json'), 'utf8')).gen).toBeGreaterThan(0);
    await reopen();
    const again = await user.openFolder('INBOX');
    expect(again.messages().map((m) => [m.uid, [...m.flags].sort(), m.modseq])).toEqual(snapshotState);
    expect(again.highestModseq).toBe(hm);
    // writes after a compaction land in the generation the snapshot names
    await again.append(msg(4), { flags: ['onlyInIndex'] });
    await reopen();
    const third = await user.openFolder('INBOX');
    expect(third.messages().map((m) => m.uid)).toEqual([1, 2, 3, 4]);
    expect(third.get(4)!.flags).toEqual(['onlyInIndex']); // replayed from the log, not re-adopted by reconcile
    expect((await third.read(4)).equals(msg(4))).toBe(true);
  });
});
