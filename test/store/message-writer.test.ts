/**
 * The message-file writer thread (mail-runtime/store/message-writer.ts):
 * what the files hold, their mtime (a Maildir message's INTERNALDATE), the
 * fsync counts, and that a failure leaves nothing this call created.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { isSystemError } from '../../mail-runtime/store/errors';
import { newStats, type StoreContext } from '../../mail-runtime/store/fsutil';
import { sharedFileReader } from '../../mail-runtime/store/file-reader';
import { writeFilesDurable } from '../../mail-runtime/store/message-writer';
import { msg, tempRoot } from './helpers';

const ROOT = path.resolve(__dirname, '../..');

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
});
afterEach(async () => cleanup());

const ctx = (): StoreContext => ({ stats: newStats(), host: 'test', files: sharedFileReader() });

describe('writeFilesDurable (writer thread)', () => {
  it('writes each file exactly, with its mtime, and counts one fsync per file in rounds of at most 64', async () => {
    const c = ctx();
    const when = new Date('2024-02-03T04:05:06.789Z');
    // A Buffer that views part of a larger one: only its own bytes are written.
    const big = Buffer.alloc(4096, 'z');
    big.write('viewed bytes', 100, 'latin1');
    const files = Array.from({ length: 70 }, (_, i) => ({ path: path.join(root, `f${i}`), data: i === 0 ? big.subarray(100, 112) : msg(i), mtime: when }));
    await writeFilesDurable(c, files);
    expect(fs.readFileSync(files[0]!.path, 'latin1')).toBe('viewed bytes');
    for (const f of files.slice(1)) expect(fs.readFileSync(f.path).equals(f.data)).toBe(true);
    expect(fs.statSync(files[5]!.path).mtime.getTime()).toBe(when.getTime());
    expect((fs.statSync(files[5]!.path).mode & 0o777).toString(8)).toBe('600');
    expect({ files: c.stats.fileFsyncs, rounds: c.stats.fileSyncRounds }).toEqual({ files: 70, rounds: 2 });
  });

  it('a name that exists fails the call as its syscall error; the files it created are removed, the existing one is untouched', async () => {
    const c = ctx();
    const existing = path.join(root, 'b');
    fs.writeFileSync(existing, 'not ours');
    const files = ['a', 'b', 'c'].map((n) => ({ path: path.join(root, n), data: msg(n), mtime: new Date() }));
    const err: unknown = await writeFilesDurable(c, files).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSystemError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'EEXIST', syscall: 'open', path: existing });
    expect(fs.readdirSync(root).sort()).toEqual(['b']);
    expect(fs.readFileSync(existing, 'latin1')).toBe('not ours');
    expect(c.stats.fileFsyncs).toBe(0);
  });

  it('through the store: a MULTIAPPEND keeps its INTERNALDATEs as mtimes and leaves tmp/ empty', async () => {
    const store = new MailStore({ root });
    const inbox = await (await store.openUser('eve@example.org', { epoch: 1 })).openFolder('INBOX');
    const dates = [new Date('2020-01-01T00:00:00Z'), new Date('2021-06-15T12:30:00Z')];
    const before = { ...store.stats };
    const { uids } = await inbox.appendMany(dates.map((d, i) => ({ raw: msg(i), opts: { internalDate: d } })));
    expect(store.stats.fileFsyncs - before.fileFsyncs).toBe(2);
    const dir = path.join(root, 'mail', 'example.org', 'eve');
    const cur = fs.readdirSync(path.join(dir, 'cur'));
    expect(cur).toHaveLength(2);
    expect(cur.map((n) => fs.statSync(path.join(dir, 'cur', n)).mtime.getTime()).sort()).toEqual(dates.map((d) => d.getTime()));
    expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    expect((await inbox.read(uids[1]!)).equals(msg(1))).toBe(true);
    await store.close();
  });

  it('an idle writer does not hold the process open; a pending write finishes before it exits', async () => {
    const target = path.join(root, 'from-child');
    const writer = path.join(ROOT, 'mail-runtime/store/message-writer.ts');
    const reader = path.join(ROOT, 'mail-runtime/store/file-reader.ts');
    const fsutil = path.join(ROOT, 'mail-runtime/store/fsutil.ts');
    // The write is started and not awaited by anything that keeps the loop alive: only the thread's ref does.
    const script = `
      const { writeFilesDurable } = require(${JSON.stringify(writer)});
      const { sharedFileReader } = require(${JSON.stringify(reader)});
      const { newStats } = require(${JSON.stringify(fsutil)});
      const ctx = { stats: newStats(), host: 'child', files: sharedFileReader() };
      (async () => {
        // The first write starts the thread; the second goes to a thread that is up and idle (unref'd).
        await writeFilesDurable(ctx, [{ path: ${JSON.stringify(target + '-first')}, data: Buffer.from('first'), mtime: new Date() }]);
        writeFilesDurable(ctx, [{ path: ${JSON.stringify(target)}, data: Buffer.from('written by a child'), mtime: new Date() }])
          .then(() => console.log('durable', ctx.stats.fileFsyncs));
      })();
    `;
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, timeout: 30_000 }, (err, stdout) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout });
      });
      child.stdin?.end();
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^durable 2$/m);
    expect(fs.readFileSync(target, 'latin1')).toBe('written by a child');
  });
});
