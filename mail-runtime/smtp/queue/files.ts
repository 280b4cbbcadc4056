import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEntry } from './entry';
import { QueueError, isErrno } from './errors';
import { QUEUE_ID, type FolderPaths } from './layout';
import type { QueueEntry } from './types';

/**
 * Reading a queue folder, for its owner and for the operator CLI alike. The
 * CLI only reads (it asks the owner for changes through control files), so
 * these functions never write.
 */

/** A message file's first line (its entry) is at most this long: 100,000 recipients of 512 octets fit. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
const READ_CHUNK = 64 * 1024;

/** Ids of the messages in a folder, oldest first (ids sort by arrival). */
export async function listIds(paths: FolderPaths): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(paths.msg);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  return names.filter((n) => QUEUE_ID.test(n)).sort();
}

/** The first line of `msg/<id>`: the entry as it was queued. */
async function readHeader(paths: FolderPaths, id: string): Promise<string> {
  const file = join(paths.msg, id);
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new QueueError('NOT_FOUND', `no queued message ${id}`);
    throw e;
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, total);
      if (bytesRead === 0) throw new QueueError('CORRUPT', `${file}: no entry line`);
      const chunk = buf.subarray(0, bytesRead);
      const nl = chunk.indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(chunk.subarray(0, nl));
        return Buffer.concat(chunks).toString('utf8');
      }
      chunks.push(chunk);
      total += bytesRead;
      if (total > MAX_HEADER_BYTES) throw new QueueError('CORRUPT', `${file}: entry line longer than ${MAX_HEADER_BYTES} octets`);
    }
  } finally {
    await fh.close();
  }
}

/** The entry files of every message: `entries/<id>.<epoch>.json`, highest epoch first per id. */
export async function entryFiles(paths: FolderPaths): Promise<Map<string, { epoch: number; file: string }[]>> {
  let names: string[];
  try {
    names = await readdir(paths.entries);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return new Map();
    throw e;
  }
  const out = new Map<string, { epoch: number; file: string }[]>();
  for (const name of names) {
    const m = ENTRY_FILE.exec(name);
    if (!m || !QUEUE_ID.test(m[1]!)) continue;
    const list = out.get(m[1]!) ?? [];
    list.push({ epoch: Number(m[2]), file: join(paths.entries, name) });
    out.set(m[1]!, list);
  }
  for (const list of out.values()) list.sort((a, b) => b.epoch - a.epoch);
  return out;
}

/** `<id>.<epoch>.json`: each owner writes its own file, so a late write of a fenced owner never replaces the new owner's. */
const ENTRY_FILE = /^([0-9a-z]+)\.(\d+)\.json$/;

export function entryFileName(id: string, epoch: number): string {
  return `${id}.${epoch}.json`;
}

/**
 * The entry of message `id`: the entry file of the highest epoch once
 * delivery has changed it, else the line it was queued with. Validated
 * (entry.ts); the id inside must be the file's. `files` is entryFiles()
 * when the caller reads many (a scan); without it the folder is listed.
 */
export async function readEntry(paths: FolderPaths, id: string, files?: Map<string, { epoch: number; file: string }[]>): Promise<QueueEntry> {
  if (!QUEUE_ID.test(id)) throw new QueueError('NOT_FOUND', `"${id}" is not a queue id`);
  const newest = (files ?? (await entryFiles(paths))).get(id)?.[0];
  let entry: QueueEntry | undefined;
  if (newest) {
    try {
      entry = parseEntry(await readFile(newest.file, 'utf8'), newest.file);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e; // removed meanwhile: the message file decides below
    }
  }
  entry ??= parseEntry(await readHeader(paths, id), join(paths.msg, id));
  if (entry.id !== id) throw new QueueError('CORRUPT', `${newest?.file ?? join(paths.msg, id)}: holds entry ${entry.id}, not ${id}`);
  return entry;
}

/** The message octets of `id` (after its entry line), checked against the size the entry records. */
export async function readMessage(paths: FolderPaths, id: string, size: number): Promise<Buffer> {
  const file = join(paths.msg, id);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new QueueError('NOT_FOUND', `no queued message ${id}`);
    throw e;
  }
  const nl = data.indexOf(0x0a);
  if (nl < 0) throw new QueueError('CORRUPT', `${file}: no entry line`);
  const message = data.subarray(nl + 1);
  if (message.length !== size) throw new QueueError('CORRUPT', `${file}: ${message.length} message octets, the entry says ${size}`);
  return message;
}
