import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { msg, tempRoot, userDir } from './helpers';

const ADDR = 'dora@example.org';
let root: string;
let cleanup: () => Promise<void>;
const stores: MailStore[] = [];
function node(): MailStore {
  const s = new MailStore({ root });
  stores.push(s);
  return s;
}

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await cleanup();
});

describe('ownership epochs (fencing)', () => {
  it('a newer owner takes over; the old one is refused and its late index writes are never read', async () => {
    const a = await node().openUser(ADDR, { epoch: 1 });
    const inboxA = await a.openFolder('INBOX');
    await inboxA.append(msg(1));

    const b = await node().openUser(ADDR, { epoch: 2 });
    const inboxB = await b.openFolder('INBOX');
    expect(inboxB.messages().map((m) => m.uid)).toEqual([1]);

    let gone = '';
    inboxA.on('gone', (r) => (gone = r));
    await expect(inboxA.append(msg('zombie'))).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(gone).toBe('fenced');
    await expect(inboxA.store([1], 'add', ['\\Deleted'])).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(node().openUser(ADDR, { epoch: 1 })).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(a.createFolder('Zombie')).rejects.toMatchObject({ code: 'STALE_EPOCH' });

    await inboxB.append(msg(2));

    // A zombie paused between its epoch check and its write: its records land in epoch-1 files.
    const meta = path.join(userDir(root, ADDR), 'mailfleet');
    const zombieLog = path.join(meta, 'index.1.0.log');
    await fs.promises.appendFile(
      zombieLog,
      [
        JSON.stringify({ t: 'x', u: [1], m: 99 }),
        JSON.stringify({ t: 'f', u: 2, f: ['\\Deleted'], m: 100 }),
        JSON.stringify({ t: 'a', u: 3, b: 'zombie.base', f: [], d: 0, s: 1, m: 101 }),
      ].join('\n') + '\n',
    );
    await fs.promises.writeFile(path.join(meta, 'snapshot.1.json'), JSON.stringify({ v: 1, epoch: 1, gen: 0, uidValidity: 1, uidNext: 1, highestModseq: 0, messages: [] }));

    for (const epoch of [2, 3]) {
      const s = node();
      // close b's store first so the epoch-2 reader really reads the disk
      for (const old of stores.slice(0, -1)) await old.close();
      const u = await s.openUser(ADDR, { epoch });
      const inbox = await u.openFolder('INBOX');
      expect(inbox.messages().map((m) => [m.uid, m.flags])).toEqual([
        [1, []],
        [2, []],
      ]);
      expect(inbox.highestModseq).toBeLessThan(99);
      expect((await inbox.read(1)).equals(msg(1))).toBe(true);
    }
  });

  it('a write that was durable before the takeover is kept but not acknowledged (post-write epoch check)', async () => {
    let release!: (v: boolean) => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    let gate: Promise<boolean> | null = null;
    const a = await node().openUser(ADDR, {
      epoch: 1,
      stillOwner: () => {
        if (!gate) return true;
        entered();
        return gate;
      },
    });
    const inboxA = await a.openFolder('INBOX');
    gate = new Promise<boolean>((r) => (release = r));
    const pending = inboxA.append(msg('in-flight'));
    await inside; // durable on disk, lease check in progress
    const b = await node().openUser(ADDR, { epoch: 2 });
    const inboxB = await b.openFolder('INBOX');
    release(true); // the lease still looks fine, but the epoch marker says otherwise
    await expect(pending).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    expect(inboxB.messages()).toHaveLength(1); // present, unacknowledged: the sender retries (a duplicate, never a loss)
  });

  it('stillOwner() false after the write rejects it', async () => {
    let owner = true;
    const a = await node().openUser(ADDR, { epoch: 7, stillOwner: () => owner });
    const inbox = await a.openFolder('INBOX');
    await inbox.append(msg(1));
    owner = false;
    await expect(inbox.append(msg(2))).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(inbox.append(msg(3))).rejects.toMatchObject({ code: 'STALE_EPOCH' });
  });

  it('a newer epoch opened in the same process fences the older objects', async () => {
    const s = node();
    const a = await s.openUser(ADDR, { epoch: 1 });
    const inboxA = await a.openFolder('INBOX');
    const b = await s.openUser(ADDR, { epoch: 2 });
    const inboxB = await b.openFolder('INBOX');
    expect(inboxB).not.toBe(inboxA);
    await expect(inboxA.append(msg(1))).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(a.listFolders()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(s.openUser(ADDR, { epoch: 1 })).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(inboxB.append(msg(1))).resolves.toMatchObject({ uid: 1 });
  });
});
