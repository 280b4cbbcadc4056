import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { msg, tempRoot } from './helpers';

/**
 * The folder's opener count has one owner (the user registry) and each
 * openFolder() returns its own handle: closing a handle twice releases it
 * once, so one session cannot close a folder under another.
 */
const ADDR = 'hal@example.org';
let root: string;
let cleanup: () => Promise<void>;
let store: MailStore;

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = new MailStore({ root });
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

describe('folder handles', () => {
  it("one session closing INBOX twice does not close it for another session's next APPEND", async () => {
    const sessionA = await store.openUser(ADDR, { epoch: 1 });
    const sessionB = await store.openUser(ADDR, { epoch: 1 });
    const inboxA = await sessionA.openFolder('INBOX');
    const inboxB = await sessionB.openFolder('INBOX');
    await inboxA.append(msg(1));
    await inboxA.close();
    await inboxA.close();
    expect((await inboxB.append(msg(2))).uid).toBe(2);
    expect(inboxB.messages().map((m) => m.uid)).toEqual([1, 2]);
    await inboxB.close();
    await sessionA.close();
    await sessionB.close();
  });

  it('a closed handle refuses work and hears no more events; the others do', async () => {
    const user = await store.openUser(ADDR, { epoch: 1 });
    const a = await user.openFolder('INBOX');
    const b = await user.openFolder('INBOX');
    const heardA: number[] = [];
    const heardB: number[] = [];
    a.on('exists', (uids) => heardA.push(...uids));
    b.on('exists', (uids) => heardB.push(...uids));
    await a.close();
    await expect(a.append(msg(1))).rejects.toMatchObject({ code: 'CANNOT', message: expect.stringMatching(/closed/) });
    await b.append(msg(1));
    expect(heardA).toEqual([]);
    expect(heardB).toEqual([1]);
    await b.close();
    await user.close();
  });

  it('the last handle closes the folder; the next open loads it again with the same state', async () => {
    const user = await store.openUser(ADDR, { epoch: 1 });
    const a = await user.openFolder('INBOX');
    await a.append(msg(1));
    await a.close();
    await a.close();
    const again = await user.openFolder('INBOX');
    expect(again.messages().map((m) => m.uid)).toEqual([1]);
    expect((await again.append(msg(2))).uid).toBe(2);
    await again.close();
    await user.close();
  });
});
