import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where a queue lives on shared storage. Every gateway has its own folder,
 * named after the member that created it, so two gateways never write the
 * same files; a folder can change hands (takeover, owner.ts), its name does not.
 *
 * ```
 * <storage>/queue/<folder>/
 *   epochs/<n>          who owns the folder: the highest marker wins (owner.ts)
 *   msg/<id>            one message: its first entry as a JSON line, then the message octets
 *   entries/<id>.<epoch>.json  the entry once delivery has changed it (supersedes the line in
 *                       msg/); one file per owner epoch, the highest wins, so a fenced owner's
 *                       late write never replaces the new owner's
 *   control/<id>.<n>.json  operator requests (`mailfleet queue retry|delete`), applied by the owner
 *   tmp/                files being written; renamed into place only once complete and fsynced
 * ```
 */
export const QUEUE_DIR = 'queue';

export interface FolderPaths {
  root: string;
  epochs: string;
  msg: string;
  entries: string;
  control: string;
  tmp: string;
}

export function queueRoot(storagePath: string): string {
  return join(storagePath, QUEUE_DIR);
}

export function folderPaths(storagePath: string, folder: string): FolderPaths {
  const root = join(queueRoot(storagePath), folder);
  return { root, epochs: join(root, 'epochs'), msg: join(root, 'msg'), entries: join(root, 'entries'), control: join(root, 'control'), tmp: join(root, 'tmp') };
}

/** A folder is named by a member id (a DNS label, RuntimeConfig `memberId`). */
export const FOLDER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Queue ids: 9 base-36 digits of the millisecond clock, then 10 random hex
 * digits. They sort by arrival (the spool can be read oldest first), never
 * collide across gateways, and are safe as file names everywhere.
 */
export const QUEUE_ID = /^[0-9a-z]{9}[0-9a-f]{10}$/;

export function newQueueId(now = Date.now()): string {
  return now.toString(36).padStart(9, '0').slice(-9) + randomBytes(5).toString('hex');
}

/** A temporary file name inside `tmp/` that no other writer picks. */
export function tmpName(paths: FolderPaths, base: string): string {
  return join(paths.tmp, `${base}.${process.pid}.${randomBytes(4).toString('hex')}`);
}
