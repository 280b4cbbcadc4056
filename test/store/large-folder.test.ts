import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MailStore } from '../../mail-runtime/store';
import { tempRoot, userDir } from './helpers';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot({ memory: true }));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await cleanup();
});

const ADDR = 'big@example.org';
const COUNT = 20_000;

/** Fast bulk fixture: Maildir files written straight into cur/, unknown to the index. */
function buildFolder(dir: string): void {
  fs.mkdirSync(path.join(dir, 'cur'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'new'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  for (let i = 0; i < COUNT; i++) {
    const body = `Subject: ${i}\r\n\r\nx\r\n`;
    const name = `${1_700_000_000 + i}.M${i}P1.bulk,S=${body.length}:2,${i % 2 ? 'S' : ''}`;
    const p = path.join(dir, 'cur', name);
    fs.writeFileSync(p, body);
  }
}

describe('large folder', () => {
  it(`opens and lists ${COUNT} messages without reading a single body (first open reconciles, second reads the snapshot)`, async () => {
    const dir = userDir(root, ADDR);
    const tb = Date.now();
    buildFolder(dir);
    if (process.env.STORE_TIMING) console.log(`build: ${Date.now() - tb} ms`);
    const cur = path.join(dir, 'cur');
    const bodyTouches: string[] = [];
    const watch = (p: unknown) => {
      if (String(p).startsWith(cur + path.sep)) bodyTouches.push(String(p));
    };
    const origRead = fs.promises.readFile;
    const origOpen = fs.promises.open;
    vi.spyOn(fs.promises, 'readFile').mockImplementation(((p: fs.PathLike, o?: unknown) => {
      watch(p);
      return (origRead as (p: fs.PathLike, o?: unknown) => Promise<unknown>)(p, o);
    }) as typeof fs.promises.readFile);
    vi.spyOn(fs.promises, 'open').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
      watch(p);
      return (origOpen as (p: fs.PathLike, ...r: unknown[]) => Promise<fs.promises.FileHandle>)(p, ...rest);
    }) as typeof fs.promises.open);
    let analyzed = 0;
    const analyze = () => ++analyzed;

    for (const round of [1, 2]) {
      const t0 = Date.now();
      const store = new MailStore({ root, analyze });
      const inbox = await (await store.openUser(ADDR, { epoch: 1 })).openFolder('INBOX');
      const list = inbox.messages();
      if (process.env.STORE_TIMING) console.log(`open round ${round}: ${Date.now() - t0} ms`);
      expect(list).toHaveLength(COUNT);
      expect(list[0].uid).toBe(1);
      expect(list[COUNT - 1].uid).toBe(COUNT);
      // reconciled in mtime order, flags from the info letters, size from ,S=
      expect(list[1].flags).toEqual(['\\Seen']);
      expect(Number.isFinite(list[COUNT - 1].internalDate.getTime())).toBe(true);
      expect(list[5].size).toBe('Subject: 5\r\n\r\nx\r\n'.length);
      expect(store.stats.messageReads).toBe(0);
      expect(analyzed).toBe(0);
      expect(bodyTouches).toEqual([]);
      await store.close();
      if (round === 1) {
        // the reconcile's 20,000 records were folded into a snapshot: no huge log to replay next time
        const meta = fs.readdirSync(path.join(dir, 'mailfleet'));
        expect(meta).not.toContain('index.1.0.log');
        expect(JSON.parse(fs.readFileSync(path.join(dir, 'mailfleet', 'snapshot.1.json'), 'utf8')).messages).toHaveLength(COUNT);
      }
    }
    // the spy does see the store's reads: a body read shows up
    const store = new MailStore({ root });
    const inbox = await (await store.openUser(ADDR, { epoch: 1 })).openFolder('INBOX');
    expect((await inbox.read(3)).toString()).toBe('Subject: 2\r\n\r\nx\r\n');
    expect(bodyTouches.length).toBeGreaterThan(0);
    await store.close();
  });
});
