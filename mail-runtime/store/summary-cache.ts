import * as fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from './fsutil';

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
        while (start < buf.length) {
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

  async has(base: string): Promise<boolean> {
    await this.load();
    return this.positions?.has(base) ?? false;
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
