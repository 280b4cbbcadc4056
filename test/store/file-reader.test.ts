import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileReader } from '../../mail-runtime/store/file-reader';
import { StoreError } from '../../mail-runtime/store/types';
import { msg, tempRoot, userDir, withInbox } from './helpers';

const ROOT = path.resolve(__dirname, '../..');

let dir: string;
let cleanup: () => Promise<void>;
let reader: FileReader;

beforeEach(async () => {
  ({ root: dir, cleanup } = await tempRoot());
  reader = new FileReader();
});
afterEach(async () => {
  await reader.close();
  await cleanup();
});

function file(name: string, bytes: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Reads until one file came back through a thread (they start on first use; before that the fallback reads). Bounded. */
async function threadsUp(r: FileReader): Promise<void> {
  const probe = file('probe', Buffer.from('probe'));
  for (let i = 0; i < 500 && r.stats.threadFiles === 0; i++) {
    await r.read(probe, 5);
    if (r.stats.threadFiles === 0) await new Promise((res) => setTimeout(res, 10));
  }
  expect(r.stats.threadFiles).toBeGreaterThan(0);
}

describe('FileReader', () => {
  it('reads a batch in the threads, each file whole and in order', async () => {
    await threadsUp(reader);
    const before = reader.stats.threadFiles;
    const datas = Array.from({ length: 40 }, (_, i) => randomBytes(1 + i * 997));
    const files = datas.map((d, i) => ({ path: file(`m${i}`, d), size: d.length }));
    const got = await Promise.all(reader.readMany(files));
    got.forEach((b, i) => expect(b.equals(datas[i]!)).toBe(true));
    expect(reader.stats.threadFiles - before).toBe(40);
  });

  it('packs the small files of a request into one buffer; a large one comes in its own', async () => {
    await threadsUp(reader);
    const small = [randomBytes(100), randomBytes(2000), Buffer.alloc(0), randomBytes(30_000)];
    const large = randomBytes(1024 * 1024 + 7);
    const files = [...small.map((d, i) => ({ path: file(`s${i}`, d), size: d.length })), { path: file('large', large), size: large.length }];
    const got = await Promise.all(reader.readMany(files));
    small.forEach((d, i) => expect(got[i]!.equals(d)).toBe(true));
    expect(got[4]!.equals(large)).toBe(true);
    expect(got[1]!.buffer).toBe(got[0]!.buffer);
    expect(got[3]!.buffer).toBe(got[0]!.buffer);
    expect(got[4]!.buffer).not.toBe(got[0]!.buffer);
  });

  it('files shorter or longer than recorded read as the fallback (the fs.promises read) reads them', async () => {
    await threadsUp(reader);
    const fallback = new FileReader();
    await fallback.close(); // closed: every read takes the fallback path
    const cases = [
      { data: randomBytes(500), size: 600 }, // shorter (a bare-LF file Dovecot stored)
      { data: randomBytes(5000), size: 4000 }, // longer than recorded
      { data: randomBytes(5000), size: 4999 }, // one byte longer
      { data: randomBytes(600 * 1024), size: 300 * 1024 }, // large and longer
      { data: randomBytes(10), size: 300 * 1024 }, // recorded large, really small
    ];
    const files = cases.map((c, i) => ({ path: file(`c${i}`, c.data), size: c.size }));
    const threaded = await Promise.all(reader.readMany(files));
    const plain = await Promise.all(fallback.readMany(files));
    expect(fallback.stats.fallbackFiles).toBe(cases.length);
    cases.forEach((c, i) => {
      expect(threaded[i]!.equals(c.data)).toBe(true);
      expect(plain[i]!.equals(c.data)).toBe(true);
    });
  });

  it('a missing file fails alone, with the error fs.promises gives (ENOENT: the caller looks again)', async () => {
    await threadsUp(reader);
    const ok = randomBytes(64);
    const missing = path.join(dir, 'gone');
    const [a, b] = reader.readMany([
      { path: missing, size: 10 },
      { path: file('ok', ok), size: ok.length },
    ]);
    const viaFs = await fs.promises.open(missing, 'r').then(
      () => null,
      (e: unknown) => e as NodeJS.ErrnoException,
    );
    const viaThread = await a!.then(
      () => null,
      (e: unknown) => e as NodeJS.ErrnoException,
    );
    expect(viaThread).toBeInstanceOf(Error);
    expect({ message: viaThread!.message, code: viaThread!.code, errno: viaThread!.errno, syscall: viaThread!.syscall, path: viaThread!.path }).toEqual({
      message: viaFs!.message,
      code: 'ENOENT',
      errno: viaFs!.errno,
      syscall: viaFs!.syscall,
      path: viaFs!.path,
    });
    expect((await b!).equals(ok)).toBe(true);
  });

  it('threads ended mid-batch: every read still completes (on the fallback), with the right bytes', async () => {
    await threadsUp(reader);
    const datas = Array.from({ length: 48 }, () => randomBytes(200 * 1024));
    const files = datas.map((d, i) => ({ path: file(`k${i}`, d), size: d.length }));
    const pending = reader.readMany(files);
    const threads = reader.threads();
    expect(threads.length).toBe(2);
    await Promise.all(threads.map((t) => t.kill()));
    const got = await Promise.all(pending);
    got.forEach((b, i) => expect(b.equals(datas[i]!)).toBe(true));
    expect(reader.stats.threadDeaths).toBe(2);
    expect(reader.stats.fallbackFiles).toBeGreaterThan(0);
    // Replacement threads take over afterwards.
    const before = reader.stats.threadFiles;
    for (let i = 0; i < 500 && reader.stats.threadFiles === before; i++) {
      await reader.read(files[0]!.path, files[0]!.size);
      if (reader.stats.threadFiles === before) await new Promise((res) => setTimeout(res, 10));
    }
    expect(reader.stats.threadFiles).toBeGreaterThan(before);
  });

  it('after close() reads go on (fallback)', async () => {
    await threadsUp(reader);
    await reader.close();
    const d = randomBytes(1000);
    expect((await reader.read(file('after', d), d.length)).equals(d)).toBe(true);
    expect(reader.threads()).toEqual([]);
  });

  it('rejects bad input at the boundary without touching the others', async () => {
    const d = randomBytes(10);
    const [bad, good] = reader.readMany([
      { path: '', size: 1 },
      { path: file('g', d), size: d.length },
    ]);
    await expect(bad).rejects.toBeInstanceOf(TypeError);
    expect((await good!).equals(d)).toBe(true);
    await expect(reader.read(file('neg', d), -1)).rejects.toBeInstanceOf(TypeError);
  });

  it('an idle reader does not hold the process open; a pending read is answered before it exits', async () => {
    const d = file('child', randomBytes(4321));
    const script = `
      const { FileReader } = require(${JSON.stringify(path.join(ROOT, 'mail-runtime/store/file-reader.ts'))});
      const r = new FileReader();
      (async () => {
        let n = 0;
        for (let i = 0; i < 500 && r.stats.threadFiles === 0; i++) {
          n = (await r.read(${JSON.stringify(d)}, 4321)).length;
          if (r.stats.threadFiles === 0) await new Promise((res) => setTimeout(res, 10));
        }
        // One more read started and not awaited: the thread must answer it before the process ends.
        r.read(${JSON.stringify(d)}, 4321).then((b) => console.log('late', b.length));
        console.log('read', n, r.stats.threadFiles);
      })();
    `;
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, timeout: 30_000 }, (err, stdout) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout });
      });
      child.stdin?.end();
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^read 4321 [1-9]\d*$/m);
    expect(out.stdout).toMatch(/^late 4321$/m);
  });
});

describe('Folder.readMany', () => {
  it('reads many UIDs in one go; an unknown UID rejects alone; a file renamed behind the index is found', async () => {
    await withInbox(dir, 'u@example.org', async (inbox) => {
      for (let i = 1; i <= 5; i++) await inbox.append(msg(i));
      // Rename message 3's file (as another process changing its info letters would): the expected name is gone.
      const cur = path.join(userDir(dir, 'u@example.org'), 'cur');
      const names = fs.readdirSync(cur).sort();
      const three = names.find((n) => fs.readFileSync(path.join(cur, n)).equals(msg(3)))!;
      fs.renameSync(path.join(cur, three), path.join(cur, `${three.split(':')[0]}:2,F`));
      const got = inbox.readMany([1, 99, 3, 5]);
      expect((await got[0]!).equals(msg(1))).toBe(true);
      await expect(got[1]).rejects.toBeInstanceOf(StoreError);
      await expect(got[1]).rejects.toMatchObject({ code: 'NONEXISTENT' });
      expect((await got[2]!).equals(msg(3))).toBe(true);
      expect((await got[3]!).equals(msg(5))).toBe(true);
      expect(() => inbox.readMany('1' as unknown as number[])).toThrow(StoreError);
    });
  });
});
