import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/log';
import { QueueEntrySchema, serializeEntry } from './entry';
import { QueueError, isErrno } from './errors';
import { entryFileName, entryFiles, readEntry, readMessage, listIds } from './files';
import { fsyncDir, newFsyncStats, writeDurable, type FsyncStats } from './fsync';
import { GroupCommit } from './group-commit';
import { folderPaths, newQueueId, tmpName, type FolderPaths } from './layout';
import { claimFolder, type FolderOwner } from './owner';
import { readControls, removeControl, type PendingControl } from './control';
import type { QueueEntry, QueueWriter } from './types';

/** Files in tmp/ older than this are leftovers of a crash (a live write takes milliseconds). */
const STALE_TMP_MS = 10 * 60 * 1000;

export interface ClaimOptions {
  /** RuntimeConfig `storage.path`. */
  storagePath: string;
  /** The folder: the member id of the gateway that created it. */
  folder: string;
  /** Who claims it: the folder's own gateway when it starts, another one on takeover. */
  memberId: string;
  /** Fencing epoch; absent: one above every epoch on disk (owner.ts). */
  epoch?: number;
  log?: Logger;
}

/**
 * One queue folder, owned at an epoch: the durable hand-over point between
 * a listener's 250 and the delivery workers (types.ts). Every write is
 * fsynced and its directory made durable by the group commit, which also
 * re-checks ownership before anyone is told the write happened.
 */
export class QueueFolder implements QueueWriter {
  readonly stats: FsyncStats = newFsyncStats();
  /** Told about each message right after it is durably queued (the delivery runner starts on it at once). */
  onEnqueued: ((entry: QueueEntry) => void) | undefined;
  private readonly commits: GroupCommit;
  /** Entry files of other (older) epochs seen at the last scan, removed once ours supersedes them. */
  private readonly olderEntryFiles = new Map<string, string[]>();

  private constructor(
    readonly name: string,
    readonly paths: FolderPaths,
    readonly owner: FolderOwner,
    private readonly log?: Logger,
  ) {
    this.commits = new GroupCommit(async (dirs) => {
      await Promise.all([...dirs].map((d) => fsyncDir(d, this.stats)));
      // After the fsync, before anyone acknowledges: a newer owner means we say nothing (DESIGN.md).
      await this.owner.check();
    }, this.stats);
  }

  /** Claims the folder (creating it if need be) and clears what a crash left in tmp/. */
  static async claim(opts: ClaimOptions): Promise<QueueFolder> {
    const paths = folderPaths(opts.storagePath, opts.folder);
    const owner = await claimFolder(paths, opts.memberId, opts.epoch);
    const folder = new QueueFolder(opts.folder, paths, owner, opts.log);
    await folder.clearStaleTmp();
    opts.log?.info({ folder: opts.folder, epoch: owner.epoch }, 'queue folder claimed');
    return folder;
  }

  get epoch(): number {
    return this.owner.epoch;
  }

  async enqueue(partial: Omit<QueueEntry, 'id' | 'receivedAt' | 'owner' | 'size'> & { id?: string }, message: Buffer): Promise<string> {
    this.owner.assertOwner();
    const id = partial.id ?? newQueueId();
    const entry = QueueEntrySchema.parse({
      ...partial,
      id,
      receivedAt: new Date().toISOString(),
      owner: { memberId: this.owner.memberId, epoch: this.owner.epoch },
      size: message.length,
    });
    const target = join(this.paths.msg, id);
    await writeDurable(tmpName(this.paths, id), target, [serializeEntry(entry), '\n', message], this.stats);
    try {
      await this.commits.request([this.paths.msg]);
    } catch (err) {
      // Not acknowledged: take the file back so the new owner does not deliver mail whose sender was told to retry.
      if (err instanceof QueueError && err.code === 'FENCED') await rm(target, { force: true }).catch(() => undefined);
      throw err;
    }
    this.onEnqueued?.(entry);
    return id;
  }

  /** Message ids in the folder, oldest first. */
  ids(): Promise<string[]> {
    return listIds(this.paths);
  }

  read(id: string): Promise<QueueEntry> {
    return readEntry(this.paths, id);
  }

  readMessage(entry: QueueEntry): Promise<Buffer> {
    return readMessage(this.paths, entry.id, entry.size);
  }

  /**
   * Records a changed entry durably (file, directory, ownership) before
   * resolving, in this epoch's own entry file (`<id>.<epoch>.json`).
   */
  async save(entry: QueueEntry): Promise<void> {
    this.owner.assertOwner();
    const next = QueueEntrySchema.parse({ ...entry, owner: { memberId: this.owner.memberId, epoch: this.owner.epoch } });
    const name = entryFileName(entry.id, this.owner.epoch);
    await writeDurable(tmpName(this.paths, name), join(this.paths.entries, name), [serializeEntry(next)], this.stats);
    await this.commits.request([this.paths.entries]);
    const older = this.olderEntryFiles.get(entry.id);
    if (older) {
      this.olderEntryFiles.delete(entry.id);
      for (const f of older) await rm(f, { force: true });
    }
  }

  /**
   * Removes a finished message. The message file goes first: without it the
   * entry files are orphans that the next scan drops, whereas an entry file
   * removed first would bring back the queued line with every recipient pending.
   */
  async remove(id: string): Promise<void> {
    this.owner.assertOwner();
    await rm(join(this.paths.msg, id), { force: true });
    for (const f of [join(this.paths.entries, entryFileName(id, this.owner.epoch)), ...(this.olderEntryFiles.get(id) ?? [])]) await rm(f, { force: true });
    this.olderEntryFiles.delete(id);
    await this.commits.request([this.paths.msg, this.paths.entries]);
  }

  /**
   * Every entry in the folder, for the delivery runner's start and takeover.
   * Entry files without a message (left by a crash inside remove()) are
   * dropped; entries that fail validation are reported, never delivered.
   */
  async scan(): Promise<{ entries: QueueEntry[]; problems: { id: string; error: string }[] }> {
    await this.owner.check();
    const ids = await this.ids();
    const files = await entryFiles(this.paths);
    const entries: QueueEntry[] = [];
    const problems: { id: string; error: string }[] = [];
    for (const id of ids) {
      try {
        entries.push(await readEntry(this.paths, id, files));
      } catch (e) {
        if (e instanceof QueueError && e.code === 'NOT_FOUND') continue; // removed meanwhile
        if (!(e instanceof QueueError)) throw e;
        problems.push({ id, error: e.message });
      }
      const others = (files.get(id) ?? []).filter((f) => f.epoch !== this.owner.epoch).map((f) => f.file);
      if (others.length) this.olderEntryFiles.set(id, others);
    }
    const live = new Set(ids);
    let orphans = 0;
    for (const [id, list] of files) {
      if (live.has(id)) continue;
      for (const f of list) await rm(f.file, { force: true });
      orphans++;
    }
    if (orphans) await this.commits.request([this.paths.entries]);
    return { entries, problems };
  }

  controls(): Promise<PendingControl[]> {
    return readControls(this.paths);
  }

  removeControl(file: string): Promise<void> {
    return removeControl(file);
  }

  private async clearStaleTmp(): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(this.paths.tmp).catch(() => [] as string[])) {
      const file = join(this.paths.tmp, name);
      try {
        if (now - (await stat(file)).mtimeMs > STALE_TMP_MS) await rm(file, { force: true });
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) this.log?.warn({ err: e, file }, 'cannot clear a stale queue file');
      }
    }
  }
}
