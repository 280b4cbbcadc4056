import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';

/**
 * RFC 4314 rights are kept with the mailbox in its owner's store (user.json,
 * atomic write): they survive a restart (a new MailStore on the same root),
 * follow RENAME and go with DELETE.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function fresh(root: string, epoch: number) {
  const store = new MailStore({ root });
  const mb = await store.openUser('alice@example.com', { epoch });
  return { store, mb };
}

describe('ACL storage', () => {
  it('survives a restart, follows RENAME (children too), is removed with DELETE', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mf-acl-store-'));
    dirs.push(root);
    let { store, mb } = await fresh(root, 1);
    await mb.createFolder('Team/Sub');
    await mb.setAcl('Team', 'bob@example.com', 'lr');
    await mb.setAcl('Team/Sub', 'anyone', 'l');
    await expect(mb.setAcl('Nope', 'bob@example.com', 'l')).rejects.toMatchObject({ code: 'NONEXISTENT' });
    await store.close();

    ({ store, mb } = await fresh(root, 2));
    expect(await mb.getAcl('Team')).toEqual({ 'bob@example.com': 'lr' });
    expect([...(await store.aclIdentifiers('alice@example.com'))].sort()).toEqual(['anyone', 'bob@example.com']);
    await mb.renameFolder('Team', 'Crew');
    expect(await mb.getAcl('Crew')).toEqual({ 'bob@example.com': 'lr' });
    expect(await mb.getAcl('Crew/Sub')).toEqual({ anyone: 'l' });
    await mb.deleteFolder('Crew');
    await mb.createFolder('Crew');
    expect(await mb.getAcl('Crew')).toEqual({});
    await mb.setAcl('Crew/Sub', 'anyone', null);
    expect(await mb.getAcl('Crew/Sub')).toEqual({});
    await store.close();

    ({ store, mb } = await fresh(root, 3));
    expect(await mb.getAcl('Crew')).toEqual({});
    expect(await store.aclIdentifiers('alice@example.com')).toEqual(new Set());
    await store.close();
  });
});
