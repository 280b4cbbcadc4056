/**
 * Folder.appendMany, what MULTIAPPEND (RFC 3502 §6.3.11) stands on: all the
 * messages or none, in one group commit, with consecutive UIDs.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { msg, tempRoot, userDir } from './helpers';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

const tmpDir = (): string => join(userDir(root, 'eve@example.org'), 'tmp');

describe('Folder.appendMany', () => {
  it('appends every message in one commit, with consecutive UIDs in the order given, durable across a reopen', async () => {
    const store = new MailStore({ root });
    const inbox = await (await store.openUser('eve@example.org', { epoch: 1 })).openFolder('INBOX');
    await inbox.append(msg(0));
    const before = { ...store.stats };
    const res = await inbox.appendMany([{ raw: msg(1), opts: { flags: ['\\Seen'] } }, { raw: msg(2) }, { raw: msg(3), opts: { flags: ['$Work'] } }]);
    expect(res.uids).toEqual([2, 3, 4]);
    expect(store.stats.commits - before.commits).toBe(1);
    await store.close();
    const again = new MailStore({ root });
    const box = await (await again.openUser('eve@example.org', { epoch: 1 })).openFolder('INBOX');
    expect(box.messages().map((m) => [m.uid, m.flags])).toEqual([
      [1, []],
      [2, ['\\Seen']],
      [3, []],
      [4, ['$Work']],
    ]);
    expect((await box.read(3)).toString()).toContain('Subject: test 2');
    await again.close();
  });

  it('fsyncs every file of the batch in one round, then cur/ once and the log once (group commit)', async () => {
    const store = new MailStore({ root });
    const inbox = await (await store.openUser('eve@example.org', { epoch: 1 })).openFolder('INBOX');
    await inbox.append(msg(0)); // the log file exists from here on (its creation fsyncs the meta directory)
    const before = { ...store.stats };
    const res = await inbox.appendMany(Array.from({ length: 70 }, (_, i) => ({ raw: msg(i + 1) })));
    const d = (k: keyof typeof before): number => store.stats[k] - before[k];
    expect(res.uids).toEqual(Array.from({ length: 70 }, (_, i) => i + 2));
    // Never fewer fsyncs than files: every one is durable before the OK; 70 files are two rounds of at most 64.
    expect({ files: d('fileFsyncs'), rounds: d('fileSyncRounds'), dirs: d('dirFsyncs'), index: d('indexFsyncs'), commits: d('commits') }).toEqual({
      files: 70,
      rounds: 2,
      dirs: 1,
      index: 1,
      commits: 1,
    });
    expect(await readdir(tmpDir())).toEqual([]);
    await store.close();
  });

  it('stores none when one is refused (over quota, too big, a bad date) and leaves nothing in tmp/', async () => {
    const size = msg(1).length;
    const store = new MailStore({ root, maxMessageBytes: size * 2 });
    const inbox = await (await store.openUser('eve@example.org', { epoch: 1, quota: { messages: 3 } })).openFolder('INBOX');
    await inbox.append(msg(1));
    await expect(inbox.appendMany([{ raw: msg(2) }, { raw: msg(3) }, { raw: msg(4) }])).rejects.toMatchObject({ code: 'OVERQUOTA' });
    await expect(inbox.appendMany([{ raw: msg(2) }, { raw: Buffer.alloc(size * 3, 'x') }])).rejects.toMatchObject({ code: 'TOOBIG' });
    await expect(inbox.appendMany([{ raw: msg(2) }, { raw: msg(3), opts: { internalDate: new Date(Number.NaN) } }])).rejects.toMatchObject({ code: 'CANNOT' });
    expect(inbox.messages()).toHaveLength(1);
    expect(await readdir(tmpDir())).toEqual([]);
    // The quota is free again: two more fit.
    expect((await inbox.appendMany([{ raw: msg(2) }, { raw: msg(3) }])).uids).toEqual([2, 3]);
    await store.close();
  });
});
