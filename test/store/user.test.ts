import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore, type UserMailbox } from '../../mail-runtime/store';
import { msg, tempRoot, userDir } from './helpers';

const ADDR = 'Bob@Example.org';
let root: string;
let cleanup: () => Promise<void>;
let store: MailStore;
let user: UserMailbox;

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = new MailStore({ root });
  user = await store.openUser(ADDR, { epoch: 3 });
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

async function reopenUser(quota?: { storageBytes?: number; messages?: number }): Promise<void> {
  await store.close();
  store = new MailStore({ root });
  user = await store.openUser(ADDR, { epoch: 3, quota });
}

describe('layout and special-use folders (RFC 6154)', () => {
  it('creates INBOX and the special-use set on first open, all subscribed, as Maildir++ dirs', async () => {
    expect(user.address).toBe('bob@example.org');
    const list = await user.listFolders();
    expect(list.map((f) => [f.name, f.specialUse ?? null, f.subscribed])).toEqual([
      ['INBOX', null, true],
      ['Archive', '\\Archive', true],
      ['Drafts', '\\Drafts', true],
      ['Junk', '\\Junk', true],
      ['Sent', '\\Sent', true],
      ['Trash', '\\Trash', true],
    ]);
    const dir = userDir(root, ADDR);
    for (const d of ['cur', 'new', 'tmp', '.Sent/cur', '.Drafts/new', '.Trash/tmp', '.Junk/cur', '.Archive/cur']) {
      expect(fs.statSync(path.join(dir, d)).isDirectory()).toBe(true);
    }
    expect(fs.statSync(path.join(dir, '.Sent', 'maildirfolder')).isFile()).toBe(true);
    // no dot-prefixed metadata entries that a Maildir++ reader would list as folders
    const dotted = fs.readdirSync(dir).filter((e) => e.startsWith('.'));
    expect(dotted.sort()).toEqual(['.Archive', '.Drafts', '.Junk', '.Sent', '.Trash']);
  });
});

describe('create / delete / rename (RFC 3501 §6.3.3-6.3.5)', () => {
  it('creates parents, reports hierarchy flags, escapes dots Dovecot-listescape style', async () => {
    await user.createFolder('Projects/2024/v1.2');
    await expect(user.createFolder('projects/2024/v1.2/')).resolves.toBeUndefined(); // case-sensitive: different name
    await expect(user.createFolder('Projects/2024/v1.2/')).rejects.toMatchObject({ code: 'ALREADYEXISTS' });
    await expect(user.createFolder('inbox')).rejects.toMatchObject({ code: 'ALREADYEXISTS' });
    const dir = userDir(root, ADDR);
    expect(fs.existsSync(path.join(dir, '.Projects.2024.v1\\2e2', 'cur'))).toBe(true);
    const list = await user.listFolders();
    const p = list.find((f) => f.name === 'Projects')!;
    expect(p.flags).toEqual(['\\HasChildren']);
    expect(list.find((f) => f.name === 'Projects/2024/v1.2')!.flags).toEqual(['\\HasNoChildren']);
  });

  it('non-ASCII names are stored in modified UTF-7 and listed back in UTF-8', async () => {
    await user.createFolder('Entwürfe/日本語 & more');
    expect(fs.existsSync(path.join(userDir(root, ADDR), '.Entw&APw-rfe.&ZeVnLIqe- &- more'))).toBe(true);
    await reopenUser();
    expect((await user.listFolders()).map((f) => f.name)).toContain('Entwürfe/日本語 & more');
  });

  it('delete removes the folder but keeps children (parent becomes \\Noselect); INBOX cannot be deleted', async () => {
    await user.createFolder('A/B');
    const a = await user.openFolder('A');
    await a.append(msg(1));
    let gone = '';
    a.on('gone', (r) => (gone = r));
    await user.deleteFolder('A');
    expect(gone).toBe('deleted');
    await expect(a.append(msg(2))).rejects.toMatchObject({ code: 'NONEXISTENT' });
    const list = await user.listFolders();
    expect(list.find((f) => f.name === 'A')!.flags).toEqual(['\\Noselect', '\\HasChildren']);
    await expect(user.openFolder('A')).rejects.toMatchObject({ code: 'NONEXISTENT' });
    await expect(user.deleteFolder('A')).rejects.toMatchObject({ code: 'NONEXISTENT' });
    await expect(user.deleteFolder('INBOX')).rejects.toMatchObject({ code: 'CANNOT' });
    // recreate: new UIDVALIDITY, empty
    const validity = a.uidValidity;
    await user.createFolder('A');
    const a2 = await user.openFolder('A');
    expect(a2.messages()).toHaveLength(0);
    expect(a2.uidValidity).not.toBe(validity);
  });

  it('rename moves children, subscriptions, special-use and open folders', async () => {
    await user.createFolder('Old/Child');
    await user.subscribe('Old/Child');
    const child = await user.openFolder('Old/Child');
    await child.append(msg(1));
    await user.renameFolder('Old', 'New/Place');
    expect(child.name).toBe('New/Place/Child');
    await child.append(msg(2));
    expect(child.messages().map((m) => m.uid)).toEqual([1, 2]);
    const names = (await user.listFolders()).map((f) => f.name);
    expect(names).toContain('New/Place/Child');
    expect(names).not.toContain('Old');
    expect(await user.listSubscriptions()).toContain('New/Place/Child');
    await user.renameFolder('Sent', 'Sent Items');
    expect((await user.listFolders()).find((f) => f.name === 'Sent Items')!.specialUse).toBe('\\Sent');
    await expect(user.renameFolder('Nope', 'X')).rejects.toMatchObject({ code: 'NONEXISTENT' });
    await expect(user.renameFolder('Trash', 'Junk')).rejects.toMatchObject({ code: 'ALREADYEXISTS' });
    await expect(user.renameFolder('Trash', 'Trash/Sub')).rejects.toMatchObject({ code: 'CANNOT' });
    await child.close();
    await reopenUser();
    const c2 = await user.openFolder('New/Place/Child');
    expect(c2.messages().map((m) => m.uid)).toEqual([1, 2]);
    expect((await c2.read(2)).equals(msg(2))).toBe(true);
  });

  it('renaming INBOX moves its messages and leaves INBOX empty', async () => {
    const inbox = await user.openFolder('INBOX');
    await inbox.append(msg(1));
    await inbox.append(msg(2));
    await user.renameFolder('INBOX', 'Old Inbox');
    expect(inbox.messages()).toHaveLength(0);
    const old = await user.openFolder('Old Inbox');
    expect(old.messages()).toHaveLength(2);
    expect((await old.read(2)).equals(msg(2))).toBe(true);
  });
});

describe('subscriptions', () => {
  it('persist, may name non-existent folders, unsubscribe of unknown fails', async () => {
    await user.unsubscribe('Junk');
    await user.subscribe('Does/Not/Exist');
    await reopenUser();
    const subs = await user.listSubscriptions();
    expect(subs).not.toContain('Junk');
    expect(subs).toContain('Does/Not/Exist');
    expect((await user.listFolders()).find((f) => f.name === 'Junk')!.subscribed).toBe(false);
    await expect(user.unsubscribe('Junk')).rejects.toMatchObject({ code: 'NONEXISTENT' });
  });
});

describe('quota (RFC 9208)', () => {
  it('reports usage over all folders and refuses appends over the byte or message limit', async () => {
    const size = msg(1).length;
    await reopenUser({ storageBytes: size * 3, messages: 10 });
    const inbox = await user.openFolder('INBOX');
    const sent = await user.openFolder('Sent');
    await inbox.append(msg(1));
    await sent.append(msg(2));
    expect(await user.getQuota()).toEqual({ storageUsed: size * 2, storageLimit: size * 3, messagesUsed: 2, messagesLimit: 10 });
    await inbox.append(msg(3));
    await expect(inbox.append(msg(4))).rejects.toMatchObject({ code: 'OVERQUOTA' });
    await expect(inbox.copy([1], sent)).rejects.toMatchObject({ code: 'OVERQUOTA' });
    // a move inside the mailbox does not grow it
    await expect(inbox.move([1], sent)).resolves.toMatchObject({ pairs: [[1, 2]] });
    expect(inbox.messages()).toHaveLength(1);
    await sent.store([1], 'add', ['\\Deleted']);
    await sent.expunge();
    expect((await user.getQuota()).storageUsed).toBe(size * 2);
    await inbox.append(msg(5));
    // concurrent appends cannot overshoot: reservations count
    await reopenUser({ messages: 5 });
    const i2 = await user.openFolder('INBOX');
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => i2.append(msg(10 + i))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect((await user.getQuota()).messagesUsed).toBe(5);
  });
});
