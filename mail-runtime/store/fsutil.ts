import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/log';
import type { FileReader } from './file-reader';
import type { Analyzer, SearchFieldsDeriver, StoreStats } from './types';

/** What every internal module of the store shares (one per MailStore). */
export interface StoreContext {
  stats: StoreStats;
  logger?: Logger;
  analyze?: Analyzer;
  /** Records for fast header searches (./fields-cache.ts); only with `analyze`. */
  searchFields?: SearchFieldsDeriver;
  /** Host part of Maildir file names (slashes and colons escaped, Maildir spec). */
  host: string;
  /** append() refuses larger messages (TOOBIG); undefined: no cap of the store's own. */
  maxMessageBytes?: number;
  /** Reads message files in threads, many per request (./file-reader.ts; one reader per process). */
  files: FileReader;
}

export function newStats(): StoreStats {
  return { fileFsyncs: 0, fileSyncRounds: 0, dirFsyncs: 0, indexFsyncs: 0, commits: 0, operations: 0, messageReads: 0, analyzerCalls: 0, rescansSkipped: 0, indexCacheHits: 0, indexCacheMisses: 0 };
}

export async function fsyncDir(ctx: StoreContext, dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
    ctx.stats.dirFsyncs++;
  } finally {
    await fh.close();
  }
}

/** Write a file durably under a temporary name, then rename it into place and fsync the directory. */
export async function writeFileAtomic(ctx: StoreContext, file: string, data: string | Buffer, kind: 'index' | 'file' = 'index'): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
    if (kind === 'index') ctx.stats.indexFsyncs++;
    else ctx.stats.fileFsyncs++;
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(ctx, dir);
}

export async function readFileOrNull(file: string): Promise<Buffer | null> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
}

export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.promises.lstat(p)).isDirectory();
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return false;
    throw e;
  }
}

/** mkdir -p that also fsyncs the parent of each directory it created. */
export async function ensureDir(ctx: StoreContext, dir: string): Promise<void> {
  const created = await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  if (created === undefined) return;
  // fsync every parent from the first created directory up to dir's parent.
  let d = dir;
  const parents: string[] = [];
  while (d.length >= created.length) {
    parents.push(path.dirname(d));
    d = path.dirname(d);
  }
  for (const p of parents) await fsyncDir(ctx, p);
}

/** A simple FIFO mutex. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

/**
 * Long loops over a folder's messages (a flag change on 100,000 of them,
 * the log records for it, the summary cache index) give the event loop back
 * every this many items, so the node serves its other sessions meanwhile
 * (one folder operation must not stall every mailbox on the node).
 */
export const YIELD_EVERY_ITEMS = 1024;

/** Lets pending I/O callbacks (other sessions) run, then continues. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
