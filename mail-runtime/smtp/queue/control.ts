import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { problemsFromZod } from '../../config';
import { isErrno } from './errors';
import { fsyncDir, newFsyncStats, writeDurable } from './fsync';
import { QUEUE_ID, tmpName, type FolderPaths } from './layout';

/**
 * Operator requests for a queued message (`mailfleet queue retry|delete`).
 * The CLI never rewrites an entry itself: the owning gateway may be writing
 * it at that moment, and two writers of one file lose an update. Instead the
 * CLI drops a request file in `control/`; the owner applies it (with its
 * epoch check, like any write of its own) and removes it. So a request is
 * safe while the gateway runs, and waits for it when it does not.
 */
export const ControlRequest = z.strictObject({
  id: z.string().regex(QUEUE_ID),
  /** retry: deliver now (nextAttemptAt = now). delete: every pending recipient fails, with no DSN. */
  action: z.enum(['retry', 'delete']),
  requestedAt: z.string(),
  /** Free text for the log line: who asked (user@host of the CLI). */
  by: z.string().max(200).optional(),
});
export type ControlRequest = z.infer<typeof ControlRequest>;

export interface PendingControl {
  file: string;
  request?: ControlRequest;
  /** Why the file is not a valid request (it is removed and logged). */
  problem?: string;
}

/** Writes a request durably (fsync file and directory) so a crash right after the CLI returns cannot lose it. */
export async function writeControl(paths: FolderPaths, request: ControlRequest): Promise<string> {
  const name = `${request.id}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}.json`;
  const target = join(paths.control, name);
  const stats = newFsyncStats();
  await writeDurable(tmpName(paths, name), target, [JSON.stringify(request)], stats);
  await fsyncDir(paths.control, stats);
  return target;
}

export async function readControls(paths: FolderPaths): Promise<PendingControl[]> {
  let names: string[];
  try {
    names = await readdir(paths.control);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const out: PendingControl[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = join(paths.control, name);
    try {
      const parsed = ControlRequest.safeParse(JSON.parse(await readFile(file, 'utf8')));
      out.push(parsed.success ? { file, request: parsed.data } : { file, problem: problemsFromZod(parsed.error).map((p) => `${p.path}: ${p.message}`).join('; ') });
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue;
      out.push({ file, problem: (e as Error).message });
    }
  }
  return out;
}

export async function removeControl(file: string): Promise<void> {
  await rm(file, { force: true });
}
