import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecentRegistry } from '../../mail-runtime/imap/recent';
import type { Folder } from '../../mail-runtime/store';
import { msg, tempRoot, userDir, withInbox as inboxOf } from './helpers';

/**
 * RFC 3501 §2.3.2: which messages have been announced as \Recent is kept in
 * the folder's index (the highest claimed UID), so it survives closing the
 * folder, a restart and a takeover by a newer epoch.
 */
const ADDR = 'recent@example.org';
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

const withInbox = <T>(epoch: number, fn: (inbox: Folder) => Promise<T>): Promise<T> => inboxOf(root, ADDR, (inbox) => fn(inbox), { epoch });

describe('persisted \\Recent claims', () => {
  it('a new folder starts with nothing claimed; claims survive a reopen and a takeover, and only go up', async () => {
    await withInbox(1, async (inbox) => {
      expect(inbox.recentUid).toBe(0);
      for (let i = 1; i <= 3; i++) await inbox.append(msg(i));
      await inbox.claimRecent(2);
      await inbox.claimRecent(1); // lower: nothing to record
      expect(inbox.recentUid).toBe(2);
    });
    await withInbox(1, async (inbox) => {
      expect(inbox.recentUid).toBe(2);
      await inbox.claimRecent(3);
    });
    // A newer owner reads the claims the previous one recorded (its snapshot keeps them).
    await withInbox(2, async (inbox) => {
      expect(inbox.recentUid).toBe(3);
      const snapshot = JSON.parse(await fs.promises.readFile(path.join(userDir(root, ADDR), 'mailfleet', 'snapshot.2.json'), 'utf8')) as { recent?: number };
      expect(snapshot.recent).toBe(3);
    });
  });

  it('the registry starts from the persisted claims: unclaimed mail is recent whatever its INTERNALDATE, claimed mail never again', async () => {
    await withInbox(1, async (inbox) => {
      await inbox.append(msg(1), { internalDate: new Date('2001-01-01T00:00:00Z') });
      await inbox.append(msg(2), { internalDate: new Date('2099-01-01T00:00:00Z') });
      const claims = new RecentRegistry(Date.now()).of(ADDR, inbox);
      expect(claims.countUnclaimed(inbox)).toBe(2);
      expect(claims.claim(inbox, [1])).toEqual([1]);
    });
    // A new process (a new registry): 1 was announced, 2 was not.
    await withInbox(1, async (inbox) => {
      const claims = new RecentRegistry(Date.now()).of(ADDR, inbox);
      expect(claims.isUnclaimed(1)).toBe(false);
      expect(claims.isUnclaimed(2)).toBe(true);
      expect(claims.claim(inbox, [1, 2])).toEqual([2]);
    });
    await withInbox(1, async (inbox) => {
      expect(new RecentRegistry(Date.now()).of(ADDR, inbox).countUnclaimed(inbox)).toBe(0);
    });
  });
});
