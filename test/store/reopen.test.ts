/**
 * Opening a folder again (issues 14, 15): a released folder lingers in the
 * user's registry (SELECT after UNSELECT reloads nothing), a cleanly closed
 * folder whose cur/ and new/ did not change skips the reconcile's walk of
 * every file name, and EMAILIDs (RFC 8474 §5.1) stored in the index —
 * older indexes without them keep the ids derived before.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore, type Folder } from '../../mail-runtime/store';
import { msg, tempRoot, userDir, withInbox } from './helpers';

const ADDR = 'dora@example.org';
let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => {
  await cleanup();
});

/** The shared folder object behind a handle (internal: identity is what this test checks). */
function implOf(f: Folder): object {
  return (f as unknown as { impl: object }).impl;
}

/** Moves the mtimes of cur/ and new/ into the past, as if the last change were a minute ago. */
async function ageDirs(dir: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  for (const sub of ['cur', 'new']) await fs.promises.utimes(path.join(dir, sub), past, past);
}

describe('reopening a folder', () => {
  it('a released folder stays loaded while its user is open, and goes with the last session', async () => {
    const store = new MailStore({ root });
    try {
      const user = await store.openUser(ADDR, { epoch: 1 });
      const a = await user.openFolder('INBOX');
      await a.append(msg(1));
      const first = implOf(a);
      await a.close();
      const b = await user.openFolder('INBOX');
      expect(implOf(b)).toBe(first);
      expect(b.messages().map((m) => m.uid)).toEqual([1]);
      await b.close();
      // Dropped in by hand while it lingers (a migration): the next open finds it, as a fresh load would.
      await fs.promises.writeFile(path.join(userDir(root, ADDR), 'cur', '1000.hand.y:2,S'), msg('y'));
      const h = await user.openFolder('INBOX');
      expect(implOf(h)).toBe(first);
      expect(h.messages().map((m) => [m.uid, m.flags])).toEqual([
        [1, []],
        [2, ['\\Seen']],
      ]);
      await h.close();
      await user.close();
      const again = await store.openUser(ADDR, { epoch: 1 });
      const c = await again.openFolder('INBOX');
      expect(implOf(c)).not.toBe(first);
      expect(c.messages().map((m) => m.uid)).toEqual([1, 2]);
      await c.close();
    } finally {
      await store.close();
    }
  });

  it('a folder closed cleanly is reopened without a rescan; a file dropped in by hand afterwards is found', async () => {
    const dir = userDir(root, ADDR);
    const summary = (inbox: Folder) => inbox.messages().map((m) => ({ uid: m.uid, flags: m.flags, emailId: m.emailId }));
    const before = await withInbox(root, ADDR, async (inbox) => {
      for (let i = 1; i <= 3; i++) await inbox.append(msg(i), { flags: i === 2 ? ['\\Seen'] : [] });
      // Before the close: the close records the directories' mtimes.
      await ageDirs(dir);
      return summary(inbox);
    });

    await withInbox(root, ADDR, async (inbox, store) => {
      expect(store.stats.rescansSkipped).toBe(1);
      expect(summary(inbox)).toEqual(before);
    });

    // A change by hand moves the directory's mtime: the next open reconciles.
    await fs.promises.writeFile(path.join(dir, 'cur', '1000.hand.x:2,'), msg('x'));
    await withInbox(root, ADDR, async (inbox, store) => {
      expect(store.stats.rescansSkipped).toBe(0);
      expect(inbox.messages().map((m) => m.uid)).toEqual([1, 2, 3, 4]);
    });
  });

  it('a takeover by a newer epoch reconciles (the hint is per epoch)', async () => {
    const dir = userDir(root, ADDR);
    await withInbox(root, ADDR, async (inbox) => {
      await inbox.append(msg(1));
      await ageDirs(dir);
    });
    await withInbox(
      root,
      ADDR,
      async (next, store) => {
        expect(store.stats.rescansSkipped).toBe(0);
        expect(next.messages().map((m) => m.uid)).toEqual([1]);
      },
      { epoch: 2 },
    );
  });

  it('RFC 8474 §5.1: an index written without EMAILIDs keeps the derived ids, stable across reopens', async () => {
    const dir = userDir(root, ADDR);
    const uidValidity = await withInbox(root, ADDR, async (inbox) => {
      await inbox.append(msg(1));
      await inbox.append(msg(2));
      return inbox.uidValidity;
    });
    // As an older version wrote it: no `e` in the log's append records.
    const meta = path.join(dir, 'mailfleet');
    for (const f of await fs.promises.readdir(meta)) {
      if (!f.endsWith('.log')) continue;
      const lines = (await fs.promises.readFile(path.join(meta, f), 'utf8')).split('\n').filter((l) => l !== '');
      const old = lines.map((l) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        delete r.e;
        return JSON.stringify(r);
      });
      await fs.promises.writeFile(path.join(meta, f), old.map((l) => l + '\n').join(''));
    }
    const prefix = `M${createHash('sha256').update(['email', ADDR, uidValidity].join('\0')).digest('hex').slice(0, 16)}`;
    for (let round = 0; round < 2; round++) {
      await withInbox(root, ADDR, async (inbox) => expect(inbox.messages().map((m) => m.emailId)).toEqual([`${prefix}1`, `${prefix}2`]), { epoch: 1 + round });
    }
  });
});
