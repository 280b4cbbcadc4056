import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno, yieldToLoop } from './fsutil';

/**
 * Cache of analyzer results (ENVELOPE/BODYSTRUCTURE material) per folder:
 * `<maildir>/mailfleet/summaries.jsonl`, lines `<file base>\t<json>\n`.
 *
 * Keyed by the Maildir base name, not the UID: a base is unique forever,
 * whereas a UID written by a fenced zombie could later name another message.
 * It is derived data, so it is not fsynced; a torn or bad line is skipped
 * and the summary recomputed. Only positions are kept in memory, so a
 * 100,000-message folder does not hold every summary.
 */
/** Largest single read when fetching many cache entries at once. */
const MANY_READ_BYTES = 1024 * 1024;
/** Lines indexed between two yields to the event loop when the cache file is first read. */
const SCAN_YIELD_LINES = 4096;

export class SummaryCache {
  private positions: Map<string, { offset: number; length: number }> | null = null;
  private loading: Promise<void> | null = null;
  private size = 0;
  private fh: fs.promises.FileHandle | null = null;
  private writeChain: Promise<void> = Promise.resolve();

  constructor(private file: string) {}

  /** The folder directory moved (rename): follow it. */
  relocate(metaDir: string): void {
    this.file = path.join(metaDir, 'summaries.jsonl');
  }

  private async load(): Promise<void> {
    if (this.positions) return;
    if (!this.loading) {
      this.loading = (async () => {
        const positions = new Map<string, { offset: number; length: number }>();
        let buf: Buffer;
        try {
          buf = await fs.promises.readFile(this.file);
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
          buf = Buffer.alloc(0);
        }
        let start = 0;
        for (let lines = 1; start < buf.length; lines++) {
          // A 100,000-message folder has as many lines: let other sessions run now and then.
          if (lines % SCAN_YIELD_LINES === 0) await yieldToLoop();
          const nl = buf.indexOf(0x0a, start);
          if (nl < 0) break; // torn tail
          const tab = buf.indexOf(0x09, start);
          if (tab > start && tab < nl) {
            positions.set(buf.toString('utf8', start, tab), { offset: tab + 1, length: nl - tab - 1 });
          }
          start = nl + 1;
        }
        // A torn tail would glue onto our next line: cut it off.
        if (start < buf.length) await fs.promises.truncate(this.file, start);
        this.size = start;
        this.positions = positions;
      })();
    }
    await this.loading;
  }

  async get(base: string): Promise<{ found: true; value: unknown } | { found: false }> {
    await this.load();
    const pos = this.positions?.get(base);
    if (!pos) return { found: false };
    const fh = await fs.promises.open(this.file, 'r');
    try {
      const buf = Buffer.alloc(pos.length);
      await fh.read(buf, 0, pos.length, pos.offset);
      return { found: true, value: JSON.parse(buf.toString('utf8')) as unknown };
    } catch {
      return { found: false };
    } finally {
      await fh.close();
    }
  }

  /**
   * Many entries with few reads: entries are sorted by file position and
   * neighbours are fetched together, up to MANY_READ_BYTES per read.
   * Unreadable entries are simply absent (the caller recomputes them).
   */
  async getMany(bases: readonly string[]): Promise<Map<string, unknown>> {
    await this.load();
    const out = new Map<string, unknown>();
    const wanted: Array<{ base: string; offset: number; length: number }> = [];
    for (const base of bases) {
      const pos = this.positions?.get(base);
      if (pos) wanted.push({ base, ...pos });
    }
    if (wanted.length === 0) return out;
    wanted.sort((a, b) => a.offset - b.offset);
    const fh = await fs.promises.open(this.file, 'r');
    try {
      for (let i = 0; i < wanted.length; ) {
        const start = wanted[i]!.offset;
        let end = start + wanted[i]!.length;
        let j = i + 1;
        while (j < wanted.length && wanted[j]!.offset + wanted[j]!.length - start <= MANY_READ_BYTES) {
          end = Math.max(end, wanted[j]!.offset + wanted[j]!.length);
          j++;
        }
        const buf = Buffer.alloc(end - start);
        const { bytesRead } = await fh.read(buf, 0, buf.length, start);
        for (let k = i; k < j; k++) {
          const w = wanted[k]!;
          const from = w.offset - start;
          if (from + w.length > bytesRead) continue;
          try {
            out.set(w.base, JSON.parse(buf.toString('utf8', from, from + w.length)) as unknown);
          } catch {
            // a damaged line: the caller recomputes this one
          }
        }
        i = j;
      }
    } finally {
      await fh.close();
    }
    return out;
  }

  /** Append (serialised); errors are swallowed by callers: it is a cache. */
  put(base: string, value: unknown): Promise<void> {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      return Promise.resolve();
    }
    if (json === undefined || base.includes('\t') || base.includes('\n')) return Promise.resolve();
    const line = Buffer.from(`${base}\t${json}\n`, 'utf8');
    const run = async () => {
      await this.load();
      if (!this.fh) this.fh = await fs.promises.open(this.file, 'a', 0o600);
      const offset = this.size;
      await this.fh.write(line);
      this.size += line.length;
      this.positions?.set(base, { offset: offset + Buffer.byteLength(base) + 1, length: line.length - Buffer.byteLength(base) - 2 });
    };
    const p = this.writeChain.then(run, run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.writeChain;
    if (this.fh) await this.fh.close().catch(() => undefined);
    this.fh = null;
  }
}
