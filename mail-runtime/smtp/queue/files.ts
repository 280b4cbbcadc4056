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

/**
 * The entry of message `id`: `entries/<id>.json` once delivery has changed
 * it, else the line it was queued with. Validated (entry.ts); the id inside
 * must be the file's.
 */
export async function readEntry(paths: FolderPaths, id: string): Promise<QueueEntry> {
  if (!QUEUE_ID.test(id)) throw new QueueError('NOT_FOUND', `"${id}" is not a queue id`);
  const entryFile = join(paths.entries, `${id}.json`);
  let entry: QueueEntry;
  try {
    entry = parseEntry(await readFile(entryFile, 'utf8'), entryFile);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
    entry = parseEntry(await readHeader(paths, id), join(paths.msg, id));
  }
  if (entry.id !== id) throw new QueueError('CORRUPT', `${entryFile}: holds entry ${entry.id}, not ${id}`);
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
