/**
 * Idempotent delivery (issue 13's duplicate under a forced switch, issue
 * 12's takeover window): a folder remembers the delivery ids it accepted
 * and answers a repeat with the first copy, across restarts, takeovers by a
 * new epoch and the reconcile of a file whose log record was lost.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MailStore, isStoreError, type Folder } from '../../mail-runtime/store';
import { DELIVERY_ID_HORIZON_MS, DeliveryIds, MAX_DELIVERY_IDS, deliveryIdOfBase } from '../../mail-runtime/store/deliveries';
import { newBaseName } from '../../mail-runtime/store/folder';
import { msg, tempRoot, userDir, withInbox } from './helpers';

const ADDR = 'ida@example.org';
const ID_A = 'lx1abc0de0123456789';
const ID_B = 'lx1abc0de0fedcba987';
let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => {
  await cleanup();
});

/** ADDR's INBOX at `epoch` in a fresh store (a restart, or a new owner). */
const inInbox = <T>(epoch: number, fn: (inbox: Folder, store: MailStore) => Promise<T>): Promise<T> => withInbox(root, ADDR, fn, { epoch });

async function filesInCur(): Promise<string[]> {
  return (await fs.promises.readdir(path.join(userDir(root, ADDR), 'cur'))).filter((e) => !e.startsWith('.'));
}

describe('delivery ids in the store', () => {
  it('the same id twice gives one message; different ids give two', async () => {
    await inInbox(1, async (inbox, store) => {
      const first = await inbox.append(msg(1), { deliveryId: ID_A });
      expect(first.duplicate).toBeUndefined();
      const commits = store.stats.commits;
      const again = await inbox.append(msg(1), { deliveryId: ID_A });
      expect(again).toEqual({ uid: first.uid, uidValidity: first.uidValidity, duplicate: true });
      expect(store.stats.commits).toBe(commits); // nothing written for the repeat
      const other = await inbox.append(msg(1), { deliveryId: ID_B });
      expect(other.duplicate).toBeUndefined();
      expect(other.uid).toBe(first.uid + 1);
      // A message without an id is never taken for a repeat.
      await inbox.append(msg(1));
      expect(inbox.messages()).toHaveLength(3);
      expect(await filesInCur()).toHaveLength(3);
    });
  });

  it('two attempts of one delivery at once write one copy', async () => {
    await inInbox(1, async (inbox) => {
      const results = await Promise.all([inbox.append(msg(1), { deliveryId: ID_A }), inbox.append(msg(1), { deliveryId: ID_A }), inbox.append(msg(1), { deliveryId: ID_A })]);
      expect(results.filter((r) => r.duplicate !== true)).toHaveLength(1);
      expect(new Set(results.map((r) => r.uid)).size).toBe(1);
      expect(inbox.messages()).toHaveLength(1);
    });
  });

  it('is remembered across a restart (log replay) and a takeover by a newer epoch (snapshot)', async () => {
    const uid = await inInbox(1, async (inbox) => (await inbox.append(msg(1), { deliveryId: ID_A })).uid);
    // Restart under the same epoch: the id comes back from the log record written with the message.
    await inInbox(1, async (inbox) => {
      expect(await inbox.append(msg(1), { deliveryId: ID_A })).toMatchObject({ uid, duplicate: true });
      expect(inbox.messages()).toHaveLength(1);
    });
    // A new owner (epoch 2) snapshots what it read before writing: the snapshot carries the id…
    await inInbox(2, async (inbox) => {
      expect(await inbox.append(msg(1), { deliveryId: ID_A })).toMatchObject({ uid, duplicate: true });
      await inbox.append(msg(2), { deliveryId: ID_B });
    });
    // …and the owner after it (epoch 3) reads ids from that snapshot and from epoch 2's log.
    await inInbox(3, async (inbox) => {
      expect(await inbox.append(msg(1), { deliveryId: ID_A })).toMatchObject({ uid, duplicate: true });
      expect((await inbox.append(msg(2), { deliveryId: ID_B })).duplicate).toBe(true);
      expect(inbox.messages()).toHaveLength(2);
    });
    const snapshots = (await fs.promises.readdir(path.join(userDir(root, ADDR), 'mailfleet'))).filter((e) => e.startsWith('snapshot.'));
    const snap = JSON.parse(await fs.promises.readFile(path.join(userDir(root, ADDR), 'mailfleet', snapshots.sort().pop()!), 'utf8')) as { deliveries?: [string, number, number][] };
    expect(snap.deliveries?.map((d) => d[0])).toEqual([ID_A, ID_B]);
  });

  it('a message the user expunged is not delivered again by a repeat', async () => {
    await inInbox(1, async (inbox) => {
      const { uid } = await inbox.append(msg(1), { deliveryId: ID_A });
      await inbox.store([uid], 'add', ['\\Deleted']);
      await inbox.expunge([uid]);
      expect(inbox.messages()).toHaveLength(0);
      expect((await inbox.append(msg(1), { deliveryId: ID_A })).duplicate).toBe(true);
      expect(inbox.messages()).toHaveLength(0);
    });
  });

  it('a delivered file whose log record was lost (a crash) still counts: its name carries the id', async () => {
    await inInbox(1, async (inbox) => {
      await inbox.append(msg(0));
    });
    // What a crash between the rename into cur/ and the log's fsync leaves: the file, no record.
    const base = newBaseName('host', msg(1).length, msg(1).length, ID_A);
    expect(deliveryIdOfBase(base)).toBe(ID_A);
    await fs.promises.writeFile(path.join(userDir(root, ADDR), 'cur', `${base}:2,`), msg(1));
    await inInbox(1, async (inbox) => {
      expect(inbox.messages()).toHaveLength(2); // the reconcile adopted it
      expect((await inbox.append(msg(1), { deliveryId: ID_A })).duplicate).toBe(true);
      expect(inbox.messages()).toHaveLength(2);
    });
    // Names of other writers (Dovecot, by hand) carry no id.
    expect(deliveryIdOfBase('1700000000.M1P2Q3R0a1b2c.host,S=10')).toBeUndefined();
    expect(deliveryIdOfBase('1700000000.M20P3.mail.example.org,S=10,W=11')).toBeUndefined();
  });

  it('refuses a malformed id or an internal date with an id (nothing written)', async () => {
    await inInbox(1, async (inbox) => {
      for (const bad of ['short', 'UPPERCASE0123456', 'has-dash-0123456', 'x'.repeat(41)]) {
        const err = await inbox.append(msg(1), { deliveryId: bad }).catch((e: unknown) => e);
        expect(isStoreError(err, 'CANNOT')).toBe(true);
      }
      const dated = await inbox.append(msg(1), { deliveryId: ID_A, internalDate: new Date(0) }).catch((e: unknown) => e);
      expect(isStoreError(dated, 'CANNOT')).toBe(true);
      expect(inbox.messages()).toHaveLength(0);
    });
  });
});

describe('DeliveryIds bounds', () => {
  it('forgets an id past the horizon', () => {
    const now = Date.now();
    const ids = new DeliveryIds([
      ['oldoldold1', now - DELIVERY_ID_HORIZON_MS - 1, 1],
      ['newnewnew1', now - 1000, 2],
    ], now);
    expect(ids.get('oldoldold1', now)).toBeUndefined();
    expect(ids.get('newnewnew1', now)).toEqual({ at: now - 1000, uid: 2 });
    expect(ids.entries(now).map((e) => e[0])).toEqual(['newnewnew1']);
    // One recorded in range ages out as time passes.
    expect(ids.get('newnewnew1', now + DELIVERY_ID_HORIZON_MS)).toBeUndefined();
  });

  it('keeps at most MAX_DELIVERY_IDS, dropping the oldest', () => {
    const ids = new DeliveryIds();
    const now = Date.now();
    for (let i = 0; i <= MAX_DELIVERY_IDS; i++) ids.record(`id${String(i).padStart(8, '0')}`, now, i + 1);
    expect(ids.size).toBeLessThanOrEqual(MAX_DELIVERY_IDS);
    expect(ids.get('id00000000', now)).toBeUndefined();
    expect(ids.get(`id${String(MAX_DELIVERY_IDS).padStart(8, '0')}`, now)).toBeDefined();
  });
});
