import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Folder } from '../../mail-runtime/store';
import { crlfLength, KeywordLetters, MAX_KEYWORD_LETTERS, parseUidlist, toCrlf } from '../../mail-runtime/store/dovecot';
import { msg, tempRoot, userDir, withInbox as inboxOf } from './helpers';

/**
 * Dovecot's files as the store reads and writes them (formats from Dovecot's
 * maildir-uidlist.c and maildir-keywords.c; the real Dovecot reads them in
 * test/migration/dovecot.test.ts).
 */
const ADDR = 'dove@example.org';
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot({ memory: true }));
});
afterEach(async () => cleanup());

const inboxDir = (): string => userDir(root, ADDR);
const uidlistText = (): string => fs.readFileSync(path.join(inboxDir(), 'dovecot-uidlist'), 'utf8');
function uidlist() {
  const u = parseUidlist(uidlistText());
  if (typeof u === 'string') throw new Error(u);
  return u;
}

const withInbox = <T>(fn: (inbox: Folder) => Promise<T>): Promise<T> => inboxOf(root, ADDR, (inbox) => fn(inbox));

describe('dovecot-uidlist (format 3)', () => {
  it.each([
    ['version 3 with extension fields', '3 V17 N5 Gabc\n1 :a.host,S=3\n3 W40 P0001 :b.host,S=4:2,S\n', { uidValidity: 17, nextUid: 5, records: [1, 3] }],
    ['version 1 (Courier / Dovecot 1.0)', '1 17 5\n1 a.host\n4 b.host:2,RS\n', { uidValidity: 17, nextUid: 5, records: [1, 4] }],
    ['a torn last line is not a record', '3 V17 N5\n1 :a.host\n2 :b.ho', { uidValidity: 17, nextUid: 5, records: [1] }],
  ])('reads %s', (_what, text, want) => {
    const u = parseUidlist(text);
    if (typeof u === 'string') throw new Error(u);
    expect({ uidValidity: u.uidValidity, nextUid: u.nextUid, records: u.records.map((r) => r.uid) }).toEqual(want);
  });

  it.each([
    ['no header', '', 'header'],
    ['unknown version', '2 V1 N1\n', 'version 2 unsupported'],
    ['UIDVALIDITY 0', '3 V0 N1\n', 'broken'],
    ['UIDs out of order', '3 V1 N9\n2 :a\n2 :b\n', 'not ordered'],
    ['a file name with a slash', '3 V1 N9\n2 :cur/a\n', 'broken file name'],
  ])('refuses %s, as Dovecot would', (_what, text, problem) => {
    expect(parseUidlist(text)).toContain(problem);
  });

  it('lists each message after its commit; expunged lines stay until a rewrite; N covers every UID given out', async () => {
    const validity = await withInbox(async (inbox) => {
      for (let i = 1; i <= 3; i++) await inbox.append(msg(i));
      await inbox.refresh();
      expect(uidlist().records.map((r) => r.uid)).toEqual([1, 2, 3]);
      await inbox.expunge([3], { force: true });
      await inbox.refresh();
      // The line of 3 stays (Dovecot skips it: no file), and keeps Dovecot from giving 3 again.
      expect(uidlist().records.map((r) => r.uid)).toEqual([1, 2, 3]);
      return inbox.uidValidity;
    });
    const u = uidlist();
    expect(u.uidValidity).toBe(validity);
    expect(u.headerExt.some((f) => /^G[0-9a-f]{32}$/.test(f))).toBe(true);
    // Each record names its file's base, as in Dovecot's own lines.
    const files = fs.readdirSync(path.join(inboxDir(), 'cur'));
    for (const r of u.records.slice(0, 2)) expect(files.some((f) => f.startsWith(`${r.base}:2,`))).toBe(true);
  });

  it('a lost line (crash between commit and append) is put back on open; a UID nobody assigned is removed', async () => {
    await withInbox(async (inbox) => {
      for (let i = 1; i <= 4; i++) await inbox.append(msg(i));
    });
    const lines = uidlistText().split('\n');
    // The last append never made it (and the header still says N1, as Dovecot's own appends leave it).
    fs.writeFileSync(path.join(inboxDir(), 'dovecot-uidlist'), lines.slice(0, -2).join('\n') + '\n');
    await withInbox(async () => undefined);
    expect(uidlist().records.map((r) => r.uid)).toEqual([1, 2, 3, 4]);
    // A line for a UID the index never gave out (a zombie's late append): the file is rebuilt from the index.
    fs.appendFileSync(path.join(inboxDir(), 'dovecot-uidlist'), '9 :1.M1P1.ghost,S=10\n');
    await withInbox(async () => undefined);
    expect(uidlist().records.map((r) => r.uid)).toEqual([1, 2, 3, 4]);
    expect(uidlist().nextUid).toBe(5);
  });

  it('a rewrite keeps Dovecot header fields and per-message extension fields (POP3 UIDLs), drops expunged lines', async () => {
    await withInbox(async (inbox) => {
      for (let i = 1; i <= 3; i++) await inbox.append(msg(i));
    });
    const u = uidlist();
    const guid = 'G0123456789abcdef0123456789abcdef';
    const text = [`3 V${u.uidValidity} N${u.nextUid} ${guid} Xfuture`, ...u.records.map((r) => `${r.uid} P${'legacy-uidl-' + r.uid} W99 :${r.base}`)].join('\n') + '\n';
    fs.writeFileSync(path.join(inboxDir(), 'dovecot-uidlist'), text);
    await withInbox(async (inbox) => {
      await inbox.expunge([1], { force: true });
    });
    // The file agreed with the index on open: appended to, not rewritten (the dead line of 1 stays).
    expect(uidlist().records.map((r) => r.uid)).toEqual([1, 2, 3]);
    // A broken tail makes the next open rewrite the file from the index.
    fs.appendFileSync(path.join(inboxDir(), 'dovecot-uidlist'), '4 :torn');
    await withInbox(async () => undefined);
    const after = uidlistText();
    expect(after.split('\n')[0]).toBe(`3 V${u.uidValidity} N4 ${guid} Xfuture`);
    expect(uidlist().records.map((r) => [r.uid, r.ext])).toEqual([
      [2, 'Plegacy-uidl-2 W99'],
      [3, 'Plegacy-uidl-3 W99'],
    ]);
  });

  it('expunging the highest UIDs before a rewrite never lets Dovecot give them out again', async () => {
    await withInbox(async (inbox) => {
      for (let i = 1; i <= 3; i++) await inbox.append(msg(i));
      await inbox.expunge([2, 3], { force: true });
    });
    fs.appendFileSync(path.join(inboxDir(), 'dovecot-uidlist'), 'x'); // torn: forces a rewrite from the index on open
    await withInbox(async (inbox) => {
      expect(inbox.uidNext).toBe(4);
    });
    const u = uidlist();
    expect(u.records.map((r) => r.uid)).toEqual([1]);
    expect(u.nextUid).toBe(4);
  });

  it('a small file is appended to, never rewritten, however much of it is dead (under 8 KiB of dead lines)', async () => {
    await withInbox(async (inbox) => {
      const count = 250;
      for (let i = 1; i <= count; i++) await inbox.append(msg(i));
      await inbox.refresh(); // the last append's uidlist line follows its acknowledgement: wait for it
      const lines = uidlistText().split('\n').slice(1, -1);
      let n = 0;
      for (let dead = 0; n < lines.length && dead + Buffer.byteLength(lines[n]) + 1 < 8 * 1024; n++) dead += Buffer.byteLength(lines[n]) + 1;
      expect(n).toBeGreaterThan(count / 2); // more than half of the file is dead, far over the quarter
      expect(n).toBeLessThan(count);
      await inbox.expunge(
        inbox.messages().slice(0, n).map((m) => m.uid),
        { force: true },
      );
      await inbox.refresh();
      expect(uidlist().records).toHaveLength(count);
    });
  });

  it('is rewritten once expunged lines are at least 8 KiB and more than a quarter of it, not before', async () => {
    // The thresholds of UidlistSync (DEAD_MIN_BYTES, DEAD_FRACTION): each step below lands on one side of one of them.
    const MIN_DEAD = 8 * 1024;
    await withInbox(async (inbox) => {
      for (let i = 1; i <= 800; i++) await inbox.append(msg(i));
      // The uidlist line of the last append is written after its acknowledgement: without
      // this, size could miss it and put the quarter below the store's own (a CI failure).
      await inbox.refresh();
      const size = fs.statSync(path.join(inboxDir(), 'dovecot-uidlist')).size;
      const lineBytes = new Map(uidlistText().split('\n').slice(1, -1).map((l) => [Number(l.split(' ')[0]), Buffer.byteLength(l) + 1]));
      const deadOf = (n: number): number => [...lineBytes.values()].slice(0, n).reduce((a, b) => a + b, 0);
      const uids = inbox.messages().map((m) => m.uid);

      // 1. Dead lines under 8 KiB: appends only (Dovecot skips lines whose files are gone).
      let n = 0;
      while (deadOf(n + 1) < MIN_DEAD) n++;
      await inbox.expunge(uids.slice(0, n), { force: true });
      await inbox.refresh(); // Dovecot's files follow the acknowledgement: the next queued operation runs after them
      expect(uidlist().records).toHaveLength(800);

      // 2. Over 8 KiB but at most a quarter of the file: still not rewritten.
      let m = n;
      while (deadOf(m + 1) <= size / 4) m++;
      expect(deadOf(m)).toBeGreaterThanOrEqual(MIN_DEAD);
      await inbox.expunge(uids.slice(n, m), { force: true });
      await inbox.refresh();
      expect(uidlist().records).toHaveLength(800);

      // 3. One more line and the dead ones are over a quarter: rewritten with the live lines only, N kept.
      await inbox.expunge([uids[m]], { force: true });
      await inbox.refresh();
      expect(uidlist().records.map((r) => r.uid)).toEqual(uids.slice(m + 1));
      expect(fs.statSync(path.join(inboxDir(), 'dovecot-uidlist')).size).toBeLessThan(size * 0.76);
      expect(uidlist().nextUid).toBe(801);
    });
  });
});

describe('dovecot-keywords and the file name letters', () => {
  it('keywords get letters a..z in order of first use; names carry them after the system flags, in ASCII order', async () => {
    await withInbox(async (inbox) => {
      await inbox.append(msg(1), { flags: ['\\Seen', 'Work'] });
      await inbox.append(msg(2), { flags: ['$Forwarded', '\\Flagged', 'work'] });
      await inbox.store([1], 'add', ['\\Answered', 'Later']);
    });
    expect(fs.readFileSync(path.join(inboxDir(), 'dovecot-keywords'), 'utf8')).toBe('0 Work\n1 $Forwarded\n2 Later\n');
    const names = fs.readdirSync(path.join(inboxDir(), 'cur')).map((n) => n.slice(n.indexOf(':2,'))).sort();
    expect(names).toEqual([':2,Fab', ':2,RSac']);
  });

  it('a 27th keyword has no letter: it lives in the index only, and files keep the 26', async () => {
    const many = Array.from({ length: MAX_KEYWORD_LETTERS + 1 }, (_, i) => `k${i}`);
    await withInbox(async (inbox) => {
      await inbox.append(msg(1), { flags: many });
    });
    await withInbox(async (inbox) => {
      expect(inbox.get(1)!.flags).toEqual(many);
    });
    const name = fs.readdirSync(path.join(inboxDir(), 'cur'))[0];
    expect(name.slice(name.indexOf(':2,') + 3)).toBe('abcdefghijklmnopqrstuvwxyz');
  });

  it('parses as Dovecot does: lines it cannot use are skipped; names compare case-insensitively', () => {
    const k = KeywordLetters.parse('0 Work\nnonsense\n30 TooHigh\n2 $Label1\n3 work\n');
    expect(k.letterOf('WORK')).toBe('a');
    expect(k.letterOf('$label1')).toBe('c');
    expect(k.keywordOf('b')).toBeUndefined();
    expect(k.keywordOf('d')).toBeUndefined();
  });
});

describe('bare LF (how Dovecot stores mail)', () => {
  it('toCrlf turns every bare LF into CRLF and leaves CRLF alone; crlfLength predicts its length', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '\n', '\r', '\r\n', 'é'), { maxLength: 60 }), (parts) => {
        const text = parts.join('');
        const buf = Buffer.from(text);
        const out = toCrlf(buf);
        // An independent statement of the rule: every line end becomes CRLF, a CRLF stays one.
        expect(out.toString()).toBe(text.replace(/\r?\n/g, '\r\n'));
        expect(crlfLength(buf)).toBe(out.length);
        expect(toCrlf(out).equals(out)).toBe(true);
      }),
    );
  });
});
