import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { yieldToLoop } from './fsutil';

/**
 * Cache of analyzer results (ENVELOPE/BODYSTRUCTURE material) per folder:
 * `<maildir>/mailfleet/summaries.jsonl`, lines `<file base>\t<json>\n`.
 *
 * Keyed by the Maildir base name, not the UID: a base is unique forever,
 * whereas a UID written by a fenced zombie could later name another message.
 * It is derived data, so appends are not fsynced; a torn or bad line is
 * skipped and the summary recomputed. Only positions are kept in memory, so
 * a 100,000-message folder does not hold every summary.
 *
 * Compaction: lines of expunged messages (the folder calls forget()), of
 * messages that never committed, and older lines of a base written twice
 * are dead. Once they are at least COMPACT_MIN_DEAD and as many as the live
 * entries, the live lines are copied to a new file (temp name, fsync,
 * rename over the old one): the file stays within about twice its live
 * size. A crash leaves the old file or the new one, each a valid cache
 * (plus a temp file the next open of the folder removes). Readers use the
 * file handle their positions belong to, so a lookup that overlaps a
 * compaction reads the file it looked up in, never another file's bytes.
 */
/** Largest single read when fetching many cache entries at once (and when compacting). */
const MANY_READ_BYTES = 1024 * 1024;
/** Lines indexed between two yields to the event loop when the cache file is first read. */
const SCAN_YIELD_LINES = 4096;
/** Compact once this many dead lines (and at least as many as live ones) have accumulated. */
export const COMPACT_MIN_DEAD = 256;

interface Pos {
  offset: number;
  length: number;
}

/** One file and what we know of it; replaced whole by a compaction. */
interface Generation {
  fh: fs.promises.FileHandle;
  positions: Map<string, Pos>;
  size: number;
  dead: number;
  readers: number;
  retired: boolean;
}

/** Temp files of an interrupted compaction (removed when the folder opens). */
export const SUMMARY_TMP_RE = /^\.summaries\.jsonl\..*\.tmp$/;

export class SummaryCache {
  private gen: Generation | null = null;
  private loading: Promise<Generation> | null = null;
  private writeChain: Promise<void> = Promise.resolve();
  private compacting = false;
  private closed = false;

  /**
   * `live()`: the file bases of the folder's messages now (consulted when
   * the file is first read, to count what is already dead).
   */
  constructor(
    private file: string,
    private readonly live: () => ReadonlySet<string>,
  ) {}

  /** The folder directory moved (rename): follow it (open handles stay valid). */
  relocate(metaDir: string): void {
    this.file = path.join(metaDir, 'summaries.jsonl');
  }

  /** Bytes in the file and lines that are dead (tests, metrics). */
  async stats(): Promise<{ bytes: number; live: number; dead: number }> {
    const g = await this.load();
    return { bytes: g.size, live: g.positions.size, dead: g.dead };
  }

  private load(): Promise<Generation> {
    if (this.gen) return Promise.resolve(this.gen);
    this.loading ??= (async () => {
      // 'a+': reads at any position, writes always at the end; created if missing.
      const fh = await fs.promises.open(this.file, 'a+', 0o600);
      try {
        const buf = await fh.readFile();
        const positions = new Map<string, Pos>();
        let start = 0;
        let lines = 0;
        while (start < buf.length) {
          // A 100,000-message folder has as many lines: let other sessions run now and then.
          if (++lines % SCAN_YIELD_LINES === 0) await yieldToLoop();
          const nl = buf.indexOf(0x0a, start);
          if (nl < 0) break; // torn tail
          const tab = buf.indexOf(0x09, start);
          if (tab > start && tab < nl) positions.set(buf.toString('utf8', start, tab), { offset: tab + 1, length: nl - tab - 1 });
          start = nl + 1;
        }
        // A torn tail would glue onto our next line: cut it off.
        if (start < buf.length) await fh.truncate(start);
        const live = this.live();
        let dead = lines - positions.size;
        for (const base of [...positions.keys()]) {
          if (!live.has(base)) {
            positions.delete(base);
            dead++;
          }
        }
        this.gen = { fh, positions, size: start, dead, readers: 0, retired: false };
        // Dead lines a previous process left (it crashed, or never expunged enough to compact).
        if (this.due(this.gen)) void this.serial(() => this.compact()).catch(() => undefined);
        return this.gen;
      } catch (e) {
        await fh.close().catch(() => undefined);
        throw e;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Runs a read against one generation, which stays open until the read is done. */
  private async withGen<T>(fn: (g: Generation) => Promise<T>): Promise<T> {
    const g = await this.load();
    g.readers++;
    try {
      return await fn(g);
    } finally {
      g.readers--;
      if (g.retired && g.readers === 0) await g.fh.close().catch(() => undefined);
    }
  }

  async get(base: string): Promise<{ found: true; value: unknown } | { found: false }> {
    return this.withGen(async (g) => {
      const pos = g.positions.get(base);
      if (!pos) return { found: false };
      try {
        const buf = Buffer.alloc(pos.length);
        await g.fh.read(buf, 0, pos.length, pos.offset);
        return { found: true, value: JSON.parse(buf.toString('utf8')) as unknown };
      } catch {
        return { found: false };
      }
    });
  }

  /**
   * Many entries with few reads: entries are sorted by file position and
   * neighbours are fetched together, up to MANY_READ_BYTES per read.
   * Unreadable entries are simply absent (the caller recomputes them).
   */
  async getMany(bases: readonly string[]): Promise<Map<string, unknown>> {
    return this.withGen(async (g) => {
      const out = new Map<string, unknown>();
      const wanted: Array<{ base: string } & Pos> = [];
      for (const base of bases) {
        const pos = g.positions.get(base);
        if (pos) wanted.push({ base, ...pos });
      }
      for await (const run of readRuns(g.fh, wanted)) {
        for (const [base, buf, from, length] of run) {
          try {
            out.set(base, JSON.parse(buf.toString('utf8', from, from + length)) as unknown);
          } catch {
            // a damaged line: the caller recomputes this one
          }
        }
      }
      return out;
    });
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
    return this.serial(async () => {
      const g = await this.load();
      const offset = g.size;
      await g.fh.write(line);
      g.size += line.length;
      if (g.positions.has(base)) g.dead++; // the older line of this base is dead now
      g.positions.set(base, { offset: offset + Buffer.byteLength(base) + 1, length: line.length - Buffer.byteLength(base) - 2 });
    });
  }

  /** The messages of these bases are gone (expunged): their lines are dead. */
  forget(bases: readonly string[]): void {
    if (this.closed) return;
    const g = this.gen;
    if (!g) {
      // Not read yet in this process: reading it counts them dead (their messages are no longer live) and compacts if due.
      void this.serial(async () => void (await this.load())).catch(() => undefined);
      return;
    }
    for (const b of bases) if (g.positions.delete(b)) g.dead++;
    if (this.due(g)) void this.serial(() => this.compact()).catch(() => undefined);
  }

  private due(g: Generation): boolean {
    return !this.compacting && !this.closed && g.dead >= COMPACT_MIN_DEAD && g.dead >= g.positions.size;
  }

  private serial(run: () => Promise<void>): Promise<void> {
    const p = this.writeChain.then(run, run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  /** Copies the live lines to a new file and switches to it (see the class comment). */
  private async compact(): Promise<void> {
    const old = this.gen;
    if (!old || !this.due(old)) return;
    this.compacting = true;
    const dir = path.dirname(this.file);
    const target = this.file;
    const tmp = path.join(dir, `.summaries.jsonl.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    let out: fs.promises.FileHandle | null = null;
    try {
      out = await fs.promises.open(tmp, 'wx', 0o600);
      const wanted = [...old.positions].map(([base, pos]) => ({ base, ...pos }));
      const positions = new Map<string, Pos>();
      let size = 0;
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      const flush = async (): Promise<void> => {
        if (chunkBytes === 0) return;
        await out!.write(Buffer.concat(chunk, chunkBytes));
        chunk = [];
        chunkBytes = 0;
      };
      // One read's worth at a time: a large folder's cache is never in memory whole.
      for await (const run of readRuns(old.fh, wanted)) {
        for (const [base, buf, from, length] of run) {
          const head = Buffer.from(`${base}\t`, 'utf8');
          positions.set(base, { offset: size + head.length, length });
          const line = Buffer.concat([head, buf.subarray(from, from + length), Buffer.from('\n')]);
          chunk.push(line);
          chunkBytes += line.length;
          size += line.length;
        }
        await flush();
        await yieldToLoop();
      }
      await flush();
      // Durable before it replaces the old file: after a crash either file is whole.
      await out.sync();
      await out.close();
      out = null;
      if (this.closed || this.file !== target) throw new Error('folder closed or moved during compaction');
      await fs.promises.rename(tmp, target);
      const fh = await fs.promises.open(target, 'a+', 0o600);
      // Forgotten while we copied: dead in the new file too.
      let dead = 0;
      for (const base of [...positions.keys()]) {
        if (!old.positions.has(base)) {
          positions.delete(base);
          dead++;
        }
      }
      this.gen = { fh, positions, size, dead, readers: 0, retired: false };
      old.retired = true;
      if (old.readers === 0) await old.fh.close().catch(() => undefined);
    } catch {
      // The old file stays in use; the temp file goes.
      await out?.close().catch(() => undefined);
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    } finally {
      this.compacting = false;
    }
  }

  async close(): Promise<void> {
    // Let queued work finish first, including a compaction it schedules (the file is left compact).
    for (let p = this.writeChain; ; p = this.writeChain) {
      await p;
      if (p === this.writeChain) break;
    }
    this.closed = true;
    await this.loading?.catch(() => undefined);
    const g = this.gen;
    this.gen = null;
    if (g) {
      g.retired = true;
      if (g.readers === 0) await g.fh.close().catch(() => undefined);
    }
  }
}

/**
 * Reads the entries in file order, neighbours together (up to
 * MANY_READ_BYTES per read), one read at a time: each yields
 * [base, buffer, offset in it, length] for its entries. Entries past the
 * end of the file (a truncated file) are left out.
 */
async function* readRuns(
  fh: fs.promises.FileHandle,
  wanted: Array<{ base: string } & Pos>,
): AsyncGenerator<Array<[base: string, buf: Buffer, from: number, length: number]>> {
  wanted.sort((a, b) => a.offset - b.offset);
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
    const run: Array<[string, Buffer, number, number]> = [];
    for (let k = i; k < j; k++) {
      const w = wanted[k]!;
      const from = w.offset - start;
      if (from + w.length <= bytesRead) run.push([w.base, buf, from, w.length]);
    }
    yield run;
    i = j;
  }
}
