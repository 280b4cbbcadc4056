import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Folder, MailStore } from '../../mail-runtime/store';
import { msg, tempRoot, userDir, withInbox as inboxOf } from './helpers';

const ADDR = 'carl@example.org';
let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => {
  await cleanup();
});

/** The shared helper on this file's root and user. */
function withInbox<T>(fn: (inbox: Folder, store: MailStore) => Promise<T>): Promise<T> {
  return inboxOf(root, ADDR, fn);
}

describe('reconcile index with Maildir files', () => {
  it('new files get new UIDs in mtime order, vanished files are expunged, existing UIDs never change, tmp/ is cleaned', async () => {
    const dir = userDir(root, ADDR);
    const names = await withInbox(async (inbox) => {
      for (let i = 1; i <= 3; i++) await inbox.append(msg(i), { flags: i === 3 ? ['\\Seen', 'kw'] : [] });
      return fs.promises.readdir(path.join(dir, 'cur'));
    });
    // by hand: remove UID 2, drop two messages (the later one in new/), leave junk in tmp/
    const two = names.find((n) => fs.readFileSync(path.join(dir, 'cur', n)).equals(msg(2)))!;
    await fs.promises.unlink(path.join(dir, 'cur', two));
    await fs.promises.writeFile(path.join(dir, 'new', '2000.hand.b'), msg('b'));
    await fs.promises.writeFile(path.join(dir, 'cur', '1000.hand.a:2,FS'), msg('a'));
    await fs.promises.utimes(path.join(dir, 'new', '2000.hand.b'), 2000, 2000);
    await fs.promises.utimes(path.join(dir, 'cur', '1000.hand.a:2,FS'), 1000, 1000);
    await fs.promises.writeFile(path.join(dir, 'tmp', 'half-written'), 'x');

    const first = await withInbox(async (inbox) => {
      const list = inbox.messages().map((m) => ({ uid: m.uid, flags: m.flags, date: m.internalDate.getTime(), size: m.size }));
      expect(list.map((m) => m.uid)).toEqual([1, 3, 4, 5]);
      expect(list[1].flags).toEqual(['\\Seen', 'kw']); // keywords live in the index, kept
      expect(list[2]).toEqual({ uid: 4, flags: ['\\Flagged', '\\Seen'], date: 1_000_000, size: msg('a').length });
      expect(list[3]).toMatchObject({ uid: 5, flags: [], date: 2_000_000 });
      expect((await inbox.read(4)).equals(msg('a'))).toBe(true);
      expect((await inbox.read(5)).equals(msg('b'))).toBe(true);
      expect(inbox.uidNext).toBe(6);
      return { list, modseq: inbox.highestModseq };
    });
    expect(await fs.promises.readdir(path.join(dir, 'tmp'))).toEqual([]);
    expect(await fs.promises.readdir(path.join(dir, 'new'))).toEqual([]);
    expect((await fs.promises.readdir(path.join(dir, 'cur'))).sort()).toHaveLength(4);

    // stable across another reopen
    await withInbox(async (inbox) => {
      expect(inbox.messages().map((m) => ({ uid: m.uid, flags: m.flags, date: m.internalDate.getTime(), size: m.size }))).toEqual(first.list);
      expect(inbox.highestModseq).toBe(first.modseq);
    });
  });

  it('refresh() on a live folder announces hand-delivered mail', async () => {
    const dir = userDir(root, ADDR);
    await withInbox(async (inbox) => {
      await inbox.append(msg(1));
      const seen: number[][] = [];
      inbox.on('exists', (u) => seen.push(u));
      await fs.promises.writeFile(path.join(dir, 'new', '3000.mda.x'), msg('mda'));
      await inbox.refresh();
      expect(seen).toEqual([[2]]);
      expect((await inbox.read(2)).equals(msg('mda'))).toBe(true);
    });
  });

  it('a torn index tail (crash mid-write) is ignored and later writes stay readable', async () => {
    const dir = userDir(root, ADDR);
    await withInbox(async (inbox) => {
      await inbox.append(msg(1));
      await inbox.append(msg(2));
    });
    const meta = path.join(dir, 'mailfleet');
    const log = (await fs.promises.readdir(meta)).find((f) => /^index\.1\.\d+\.log$/.test(f))!;
    await fs.promises.appendFile(path.join(meta, log), '{"t":"a","u":3,"b":"ghost');
    await withInbox(async (inbox) => {
      expect(inbox.messages().map((m) => m.uid)).toEqual([1, 2]);
      await inbox.append(msg(3));
    });
    await withInbox(async (inbox) => {
      expect(inbox.messages().map((m) => m.uid)).toEqual([1, 2, 3]);
      expect((await inbox.read(3)).equals(msg(3))).toBe(true);
    });
  });

  it('an index that was lost entirely is rebuilt from the files (UIDVALIDITY changes, as RFC 3501 §2.3.1.1 requires)', async () => {
    const dir = userDir(root, ADDR);
    const validity = await withInbox(async (inbox) => {
      await inbox.append(msg(1), { flags: ['\\Seen'] });
      return inbox.uidValidity;
    });
    for (const f of await fs.promises.readdir(path.join(dir, 'mailfleet'))) {
      if (f !== 'user') await fs.promises.rm(path.join(dir, 'mailfleet', f), { recursive: true });
    }
    // Without dovecot-uidlist too: nothing says which UIDs the files had.
    await fs.promises.rm(path.join(dir, 'dovecot-uidlist'));
    await withInbox(async (inbox) => {
      expect(inbox.uidValidity).not.toBe(validity);
      expect(inbox.messages().map((m) => [m.uid, m.flags])).toEqual([[1, ['\\Seen']]]);
    });
  });

  it('an index that was lost while dovecot-uidlist survived keeps UIDVALIDITY and UIDs (the uidlist lists durable UIDs only)', async () => {
    const dir = userDir(root, ADDR);
    const validity = await withInbox(async (inbox) => {
      for (let i = 1; i <= 4; i++) await inbox.append(msg(i), { flags: i % 2 ? ['\\Seen', 'Work'] : [] });
      await inbox.expunge([2], { force: true });
      return inbox.uidValidity;
    });
    for (const f of await fs.promises.readdir(path.join(dir, 'mailfleet'))) {
      if (f !== 'user') await fs.promises.rm(path.join(dir, 'mailfleet', f), { recursive: true });
    }
    await withInbox(async (inbox) => {
      expect(inbox.uidValidity).toBe(validity);
      expect(inbox.messages().map((m) => [m.uid, m.flags])).toEqual([
        [1, ['\\Seen', 'Work']],
        [3, ['\\Seen', 'Work']],
        [4, []],
      ]);
      expect(inbox.uidNext).toBe(5);
    });
  });
});

describe('crash leftovers', () => {
  it('half-written snapshots and staged folder operations are removed on open', async () => {
    const dir = userDir(root, ADDR);
    await withInbox(async (inbox) => {
      await inbox.append(msg(1));
    });
    const meta = path.join(dir, 'mailfleet');
    await fs.promises.writeFile(path.join(meta, '.snapshot.1.json.999.deadbeef.tmp'), '{"v":1,');
    await fs.promises.mkdir(path.join(meta, 'user', 'new-folder.a1b2c3d4e5f6', 'cur'), { recursive: true });
    await fs.promises.mkdir(path.join(meta, 'user', 'deleted.a1b2c3d4e5f7', 'cur'), { recursive: true });
    await withInbox(async (inbox) => {
      expect(inbox.messages().map((m) => m.uid)).toEqual([1]);
    });
    expect((await fs.promises.readdir(meta)).filter((e) => e.endsWith('.tmp'))).toEqual([]);
    expect((await fs.promises.readdir(path.join(meta, 'user'))).sort()).toEqual(['epochs', 'user.json']);
  });
});
