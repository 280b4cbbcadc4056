import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore, StoreError, type FolderGoneReason } from '../../mail-runtime/store';
import { msg, tempRoot, userDir } from './helpers';

/**
 * What the store reports when the disk fails or holds damaged files: an I/O
 * error is `IO` (logged with its stack), never `STALE_EPOCH`/`fenced`, which
 * mean that a higher epoch exists; a damaged file of ours is `CORRUPT`,
 * naming the file and the field, never replaced by a default.
 */
const ADDR = 'eve@example.org';
let root: string;
let cleanup: () => Promise<void>;
let store: MailStore;
let logLines: string[];

function logger(): pino.Logger {
  logLines = [];
  return pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
}

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = new MailStore({ root, logger: logger() });
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

/** Replaces a directory by a regular file: every syscall that needs it as a directory fails (ENOTDIR), for root too. */
async function fileInPlaceOf(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.writeFile(dir, 'not a directory');
}

describe('I/O errors are I/O errors', () => {
  it('an index write that fails rejects the APPEND with IO, the folder dies as io-error (not fenced), and the log keeps the stack', async () => {
    const user = await store.openUser(ADDR, { epoch: 1 });
    await user.createFolder('Work');
    const work = await user.openFolder('Work');
    let gone: FolderGoneReason | undefined;
    work.on('gone', (r) => (gone = r));
    // The folder's index directory becomes a file: the first index log of this folder cannot be created.
    await fileInPlaceOf(path.join(userDir(root, ADDR), '.Work', 'mailfleet'));

    const err = await work.append(msg(1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'IO' });
    expect((err as StoreError).message).toMatch(/ENOTDIR/);
    expect((err as StoreError).cause).toMatchObject({ code: 'ENOTDIR' });
    expect(gone).toBe('io-error');
    // Later operations on the dead folder get the same I/O error, not STALE_EPOCH.
    await expect(work.store([1], 'add', ['\\Seen'])).rejects.toMatchObject({ code: 'IO' });

    const logged = logLines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { stack?: string; code?: string } });
    const ioLine = logged.find((l) => l.msg.startsWith('storage I/O error'));
    expect(ioLine).toMatchObject({ level: 50, err: { type: 'StoreError', code: 'IO' } });
    // The stack, not just a message: where the store was, and the system error that caused it.
    expect(ioLine?.err?.stack).toMatch(/^StoreError: index write failed: ENOTDIR[^\n]*\n\s+at [\s\S]*caused by: Error: ENOTDIR/);
    expect(logged.find((l) => l.msg === 'folder closed')).toMatchObject({ reason: 'io-error' });

    // Ownership was never in question: the mailbox itself still works.
    const inbox = await user.openFolder('INBOX');
    expect((await inbox.append(msg(2))).uid).toBe(1);
    await inbox.close();
    await work.close();
    await user.close();
  });

  it('a failing syscall at the public boundary is IO too (a folder whose tmp/ is a file)', async () => {
    const user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    await fileInPlaceOf(path.join(userDir(root, ADDR), 'tmp'));
    await expect(inbox.append(msg(1))).rejects.toMatchObject({ code: 'IO', cause: { code: 'ENOTDIR' } });
    await inbox.close();
    await user.close();
  });
});

describe('damaged files are refused, naming file and field', () => {
  it('user.json with a field of the wrong type', async () => {
    const user = await store.openUser(ADDR, { epoch: 1 });
    await user.close();
    await store.close();
    const file = path.join(userDir(root, ADDR), 'mailfleet', 'user', 'user.json');
    const good = JSON.parse(await fs.promises.readFile(file, 'utf8')) as Record<string, unknown>;
    await fs.promises.writeFile(file, JSON.stringify({ ...good, subscriptions: 'INBOX' }));
    store = new MailStore({ root });
    const err = await store.openUser(ADDR, { epoch: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'CORRUPT' });
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/subscriptions: /);

    await fs.promises.writeFile(file, JSON.stringify({ ...good, specialUse: { Sent: '\\Bogus' } }));
    await expect(store.openUser(ADDR, { epoch: 1 })).rejects.toThrow(/user\.json is damaged: specialUse\.Sent: /);
    await fs.promises.writeFile(file, '{"v":1,');
    await expect(store.openUser(ADDR, { epoch: 1 })).rejects.toThrow(/user\.json is damaged: not JSON/);
  });

  it('an index snapshot with a bad message entry, and a log record of the wrong shape', async () => {
    const user = await store.openUser(ADDR, { epoch: 1 });
    const inbox = await user.openFolder('INBOX');
    await inbox.append(msg(1));
    await inbox.close();
    await user.close();
    await store.close();
    const meta = path.join(userDir(root, ADDR), 'mailfleet');
    const logFile = path.join(meta, (await fs.promises.readdir(meta)).find((f) => /^index\.1\.\d+\.log$/.test(f))!);
    const record = JSON.parse((await fs.promises.readFile(logFile, 'utf8')).trim()) as Record<string, unknown>;
    await fs.promises.writeFile(logFile, `${JSON.stringify({ ...record, s: 'large' })}\n`);
    store = new MailStore({ root });
    const reopened = await store.openUser(ADDR, { epoch: 1 });
    await expect(reopened.openFolder('INBOX')).rejects.toThrow(new RegExp(`${logFile.replace(/[.]/g, '\\.')} line 1 is damaged: s: `));
    await expect(reopened.openFolder('INBOX')).rejects.toMatchObject({ code: 'CORRUPT' });

    const snapFile = path.join(meta, 'snapshot.1.json');
    const snap = JSON.parse(await fs.promises.readFile(snapFile, 'utf8')) as { messages: unknown[] };
    await fs.promises.writeFile(logFile, '');
    await fs.promises.writeFile(snapFile, JSON.stringify({ ...snap, messages: [[1, 'base', [], 0, -5, 1]] }));
    await expect(reopened.openFolder('INBOX')).rejects.toThrow(/snapshot\.1\.json is damaged: messages\[0\]\[4\]: /);
    await reopened.close();
  });
});
