import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where a queue lives on shared storage. Every gateway has its own folder,
 * named after the member that created it, so two gateways never write the
 * same files; a folder can change hands (takeover, owner.ts), its name does not.
 *
 * ```
 * <storage>/queue/<folder>/
 *   epochs/<n>             who owns the folder: the highest marker wins (owner.ts)
 *   seg/<segment>          messages as queued, many per file (one group commit each), never changed
 *   journal/<epoch>.<n>.log  what delivery changed, one JSON line per entry state or removal,
 *                          appended by group commit; each owner epoch writes its own files, so a
 *                          fenced owner's late line never lands after the new owner's
 *   control/<id>.<n>.json  operator requests (`mailfleet queue retry|delete`), applied by the owner
 *   tmp/                   files being written; renamed into place only once complete and fsynced
 * ```
 *
 * An entry's state is the last journal line for it (journals in epoch, then
 * sequence order), else the line it was queued with in its segment. A
 * segment is removed once every message in it is finished.
 */
export const QUEUE_DIR = 'queue';

export interface FolderPaths {
  root: string;
  epochs: string;
  seg: string;
  journal: string;
  control: string;
  tmp: string;
}

export function queueRoot(storagePath: string): string {
  return join(storagePath, QUEUE_DIR);
}

export function folderPaths(storagePath: string, folder: string): FolderPaths {
  const root = join(queueRoot(storagePath), folder);
  return {
    root,
    epochs: join(root, 'epochs'),
    seg: join(root, 'seg'),
    journal: join(root, 'journal'),
    control: join(root, 'control'),
    tmp: join(root, 'tmp'),
  };
}

/** A folder is named by a member id (a DNS label, RuntimeConfig `memberId`). */
export const FOLDER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Queue ids (and segment names): 9 base-36 digits of the millisecond clock,
 * then 10 random hex digits. They sort by arrival, never collide across
 * gateways, and are safe as file names everywhere.
 */
export const QUEUE_ID = /^[0-9a-z]{9}[0-9a-f]{10}$/;

export function newQueueId(now = Date.now()): string {
  return now.toString(36).padStart(9, '0').slice(-9) + randomBytes(5).toString('hex');
}

/** `<epoch>.<sequence>.log`, sorted by epoch, then sequence. */
export const JOURNAL_FILE = /^(\d+)\.(\d+)\.log$/;

export function journalName(epoch: number, seq: number): string {
  return `${epoch}.${seq}.log`;
}

/** A temporary file name inside `tmp/` that no other writer picks. */
export function tmpName(paths: FolderPaths, base: string): string {
  return join(paths.tmp, `${base}.${process.pid}.${randomBytes(4).toString('hex')}`);
}
