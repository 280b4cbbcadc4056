import { open, readdir, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/log';
import { QueueEntrySchema, serializeEntry } from './entry';
import { QueueError, isErrno } from './errors';
import { SEGMENT_MAGIC, loadFolder, readMessageAt, type Location } from './files';
import { fsyncDir, newFsyncStats, writeDurable, type FsyncStats } from './fsync';
import { GroupCommit } from './group-commit';
import { SegmentWriter } from './segment-writer';
import { folderPaths, journalName, newQueueId, tmpName, type FolderPaths } from './layout';
import { claimFolder, type FolderOwner } from './owner';
import { readControls, removeControl, type PendingControl } from './control';
import type { QueueEntry, QueueWriter } from './types';

/** Files in tmp/ older than this are leftovers of a crash (a live write takes milliseconds). */
const STALE_TMP_MS = 10 * 60 * 1000;
/**
 * A journal longer than this is rewritten as one line per unfinished
 * message: replay at start stays short however long the gateway has run.
 */
const JOURNAL_COMPACT_BYTES = 4 * 1024 * 1024;
/**
 * Messages just queued are kept in memory, up to this much, for their first
 * delivery attempt: the common case (delivered at once) never reads the
 * segment back. Beyond it, or after the first attempt, they come from disk.
 */
const FRESH_CACHE_BYTES = 64 * 1024 * 1024;
/**
 * Segment commits in flight at once (group-commit.ts; each writes its own
 * file, so they are independent). 2: while one is in the writer thread the
 * next batch is already there, its fsync overlapping the previous one's;
 * whatever arrives meanwhile still shares one commit. 1 would be
 * stop-and-wait.
 */
const SEGMENT_COMMIT_DEPTH = 2;

/**
 * Removes a finished segment; already gone is fine. A plain unlink, not
 * fs.promises.rm: rm lstats first and goes through its recursive-removal
 * machinery, three pool round trips for one file, on the event loop that
 * answers SMTP (issue 14: ~2.5 % of the gateway's main thread while
 * accepting, one segment removal per group commit delivered).
 */
async function removeSegment(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

export interface ClaimOptions {
  /** RuntimeConfig `storage.path`. */
  storagePath: string;
  /** The folder: the member id of the gateway that created it. */
  folder: string;
  /** Who claims it: the folder's own gateway when it starts, another one on takeover. */
  memberId: string;
  /** Fencing epoch; absent: one above every epoch on disk (owner.ts). */
  epoch?: number;
  /** Journal size that triggers a compaction (JOURNAL_COMPACT_BYTES); tests lower it. */
  journalCompactBytes?: number;
  /** Segment commits in flight at once (SEGMENT_COMMIT_DEPTH); 1 is stop-and-wait (tests and the bench compare). */
  segmentCommitDepth?: number;
  log?: Logger;
}

interface Pending {
  entry: QueueEntry;
  message: Buffer;
  loc?: Location;
}

/** A journal line and what it changes in memory once durable (a segment to remove, if it finished one). */
interface JournalItem {
  line: string;
  apply(): string | undefined;
}

/**
 * One queue folder, owned at an epoch: the durable hand-over point between
 * a listener's 250 and the delivery workers (types.ts). Messages queued at
 * the same time share a segment file and its fsync; entry changes share a
 * journal append and its fsync (group-commit.ts); ownership is re-checked
 * after each of those fsyncs, before anyone is told.
 */
export class QueueFolder implements QueueWriter {
  readonly stats: FsyncStats = newFsyncStats();
  /** Told about each message right after it is durably queued (the delivery runner starts on it at once). */
  onEnqueued: ((entry: QueueEntry) => void) | undefined;
  private readonly segments: GroupCommit<Pending>;
  /** Writes, fsyncs and renames segments and fsyncs seg/, off the event loop (segment-writer.ts). */
  private readonly segmentWriter: SegmentWriter;
  private readonly journalLines: GroupCommit<JournalItem>;
  private readonly live = new Map<string, { entry: QueueEntry; loc: Location }>();
  /** Segment file → its messages not finished yet; the file goes when the set is empty. */
  private readonly segmentLive = new Map<string, Set<string>>();
  /** Finished messages whose segment is still on disk: a compaction must keep saying so. */
  private readonly finished = new Map<string, string>();
  private journal: { fh: FileHandle; file: string; seq: number; size: number } | undefined;
  private readonly fresh = new Map<string, Buffer>();
  private freshBytes = 0;
  private nextJournalSeq = 1;

  private constructor(
    readonly name: string,
    readonly paths: FolderPaths,
    readonly owner: FolderOwner,
    private readonly compactBytes: number,
    segmentCommitDepth: number,
    private readonly log?: Logger,
  ) {
    this.segments = new GroupCommit((items) => this.writeSegment(items), this.stats, segmentCommitDepth);
    this.segmentWriter = new SegmentWriter(this.stats);
    this.journalLines = new GroupCommit((items) => this.appendJournal(items), this.stats);
  }

  /** Claims the folder (creating it if need be), reads it, and clears what a crash left in tmp/. */
  static async claim(opts: ClaimOptions): Promise<QueueFolder> {
    const paths = folderPaths(opts.storagePath, opts.folder);
    const owner = await claimFolder(paths, opts.memberId, opts.epoch);
    const folder = new QueueFolder(opts.folder, paths, owner, opts.journalCompactBytes ?? JOURNAL_COMPACT_BYTES, opts.segmentCommitDepth ?? SEGMENT_COMMIT_DEPTH, opts.log);
    await folder.clearStaleTmp();
    opts.log?.info({ folder: opts.folder, epoch: owner.epoch }, 'queue folder claimed');
    return folder;
  }

  get epoch(): number {
    return this.owner.epoch;
  }

  async enqueue(partial: Omit<QueueEntry, 'id' | 'receivedAt' | 'owner' | 'size'> & { id?: string }, message: Buffer): Promise<string> {
    this.owner.assertOwner();
    const entry = QueueEntrySchema.parse({
      ...partial,
      id: partial.id ?? newQueueId(),
      receivedAt: new Date().toISOString(),
      owner: { memberId: this.owner.memberId, epoch: this.owner.epoch },
      size: message.length,
    });
    const pending: Pending = { entry, message };
    await this.segments.request(pending);
    this.live.set(entry.id, { entry, loc: pending.loc! });
    if (this.freshBytes + message.length <= FRESH_CACHE_BYTES) {
      this.fresh.set(entry.id, message);
      this.freshBytes += message.length;
    }
    this.onEnqueued?.(entry);
    return entry.id;
  }

  /** One group commit of enqueue: every waiting message in one new segment. */
  private async writeSegment(items: readonly Pending[]): Promise<void> {
    this.owner.assertOwner();
    const name = newQueueId();
    const file = join(this.paths.seg, name);
    const parts: Buffer[] = [Buffer.from(SEGMENT_MAGIC)];
    let offset = parts[0]!.length;
    for (const it of items) {
      const line = Buffer.from(`${serializeEntry(it.entry)}\n`);
      parts.push(line, it.message);
      it.loc = { file, offset: offset + line.length, size: it.message.length };
      offset += line.length + it.message.length;
    }
    try {
      const highest = await this.segmentWriter.write({ tmp: tmpName(this.paths, name), target: file, dir: this.paths.seg, epochs: this.paths.epochs, parts });
      // Read after the fsyncs, judged before anyone acknowledges: a newer owner means we say nothing (DESIGN.md).
      await this.owner.observed(highest);
    } catch (err) {
      // Not acknowledged: take the file back so nobody delivers mail whose sender was told to retry.
      await rm(file, { force: true }).catch(() => undefined);
      throw err;
    }
    this.segmentLive.set(file, new Set(items.map((i) => i.entry.id)));
  }

  /** Message ids not finished, oldest first. */
  ids(): string[] {
    return [...this.live.keys()].sort();
  }

  /** The current state of a message not finished. */
  read(id: string): QueueEntry {
    const found = this.live.get(id);
    if (!found) throw new QueueError('NOT_FOUND', `no queued message ${id}`);
    return found.entry;
  }

  /** The message octets: from memory on the first attempt after queueing (FRESH_CACHE_BYTES), else from its segment. */
  readMessage(entry: QueueEntry): Promise<Buffer> {
    const cached = this.fresh.get(entry.id);
    if (cached) {
      this.fresh.delete(entry.id);
      this.freshBytes -= cached.length;
      return Promise.resolve(cached);
    }
    const found = this.live.get(entry.id);
    if (!found) return Promise.reject(new QueueError('NOT_FOUND', `no queued message ${entry.id}`));
    return readMessageAt(found.loc);
  }

  /** Records a changed entry durably (journal line, fsync, ownership) before resolving. */
  async save(entry: QueueEntry): Promise<void> {
    this.owner.assertOwner();
    const found = this.live.get(entry.id);
    if (!found) throw new QueueError('NOT_FOUND', `no queued message ${entry.id}`);
    const next = QueueEntrySchema.parse({ ...entry, owner: { memberId: this.owner.memberId, epoch: this.owner.epoch } });
    await this.journalLines.request({
      line: serializeEntry(next),
      apply: () => {
        found.entry = next;
        return undefined;
      },
    });
  }

  /**
   * Finishes a message: its removal is journaled durably first; its segment
   * file goes once every message in it is finished.
   */
  async remove(id: string): Promise<void> {
    this.owner.assertOwner();
    const found = this.live.get(id);
    if (!found) return;
    await this.journalLines.request({
      line: JSON.stringify({ removed: id }),
      apply: () => {
        this.live.delete(id);
        const cached = this.fresh.get(id);
        if (cached) {
          this.fresh.delete(id);
          this.freshBytes -= cached.length;
        }
        const seg = found.loc.file;
        const rest = this.segmentLive.get(seg);
        rest?.delete(id);
        if (rest && rest.size > 0) {
          this.finished.set(id, seg);
          return undefined;
        }
        this.segmentLive.delete(seg);
        for (const [fid, fseg] of this.finished) if (fseg === seg) this.finished.delete(fid);
        return seg;
      },
    });
  }

  /**
   * One group commit of journal lines: appended, fsynced, ownership checked;
   * then their effects in memory, then the segments they finished are
   * removed (no fsync of their own: if an unlink is lost, the journal still
   * says finished — a compaction makes them durable before it drops lines).
   */
  private async appendJournal(items: readonly JournalItem[]): Promise<void> {
    this.owner.assertOwner();
    const j = await this.openJournal();
    const data = Buffer.from(`${items.map((i) => i.line).join('\n')}\n`);
    // Written, fsynced and the markers read in the writer thread (one event-loop turn); judged here before anyone is told.
    const highest = await this.segmentWriter.append(j.fh.fd, this.paths.epochs, data);
    j.size += data.length;
    await this.owner.observed(highest);
    const done = items.map((i) => i.apply()).filter((seg): seg is string => seg !== undefined);
    for (const seg of done) await removeSegment(seg);
    if (j.size > this.compactBytes) await this.compact();
  }

  /** This process's journal: a new file per start (never appended after another writer's unfinished line). */
  private async openJournal(): Promise<NonNullable<QueueFolder['journal']>> {
    if (this.journal) return this.journal;
    const seq = this.nextJournalSeq++;
    const file = join(this.paths.journal, journalName(this.owner.epoch, seq));
    const fh = await open(file, 'wx', 0o600);
    await fsyncDir(this.paths.journal, this.stats);
    this.journal = { fh, file, seq, size: 0 };
    return this.journal;
  }

  /**
   * Rewrites the journal as the state of every unfinished message (and the
   * finished ones whose segment is still there), then drops the older
   * journals — of every epoch: this owner has read them all.
   */
  private async compact(): Promise<void> {
    // Segment removals become durable first, so no "finished" line is dropped for a segment that could come back.
    await fsyncDir(this.paths.seg, this.stats);
    const lines = [...[...this.live.values()].map((l) => serializeEntry(l.entry)), ...[...this.finished.keys()].map((id) => JSON.stringify({ removed: id }))];
    const seq = this.nextJournalSeq++;
    const name = journalName(this.owner.epoch, seq);
    const file = join(this.paths.journal, name);
    await writeDurable(tmpName(this.paths, name), file, [lines.length ? `${lines.join('\n')}\n` : ''], this.stats);
    await fsyncDir(this.paths.journal, this.stats);
    const old = this.journal;
    this.journal = { fh: await open(file, 'a'), file, seq, size: lines.reduce((n, l) => n + l.length + 1, 0) };
    await old?.fh.close();
    for (const n of await readdir(this.paths.journal)) if (n !== name) await rm(join(this.paths.journal, n), { force: true });
    this.log?.debug({ folder: this.name, live: this.live.size }, 'queue journal compacted');
  }

  /**
   * Reads the folder from disk: every unfinished message, for the delivery
   * runner's start and a takeover. Damaged records are reported, never
   * delivered; segments whose messages are all finished are removed.
   */
  async scan(): Promise<{ entries: QueueEntry[]; problems: { id: string; error: string }[] }> {
    await this.owner.check();
    const state = await loadFolder(this.paths);
    this.live.clear();
    this.segmentLive.clear();
    this.finished.clear();
    this.fresh.clear();
    this.freshBytes = 0;
    for (const [id, v] of state.entries) this.live.set(id, v);
    for (const [seg, ids] of state.segments) {
      const unfinished = new Set(ids.filter((id) => this.live.has(id)));
      if (unfinished.size === 0) {
        await removeSegment(seg);
        continue;
      }
      this.segmentLive.set(seg, unfinished);
      for (const id of ids) if (!unfinished.has(id)) this.finished.set(id, seg);
    }
    for (const j of state.journals) if (j.epoch === this.owner.epoch) this.nextJournalSeq = Math.max(this.nextJournalSeq, j.seq + 1);
    return { entries: this.ids().map((id) => this.live.get(id)!.entry), problems: state.problems.map((p) => ({ id: p.where, error: p.error })) };
  }

  controls(): Promise<PendingControl[]> {
    return readControls(this.paths);
  }

  removeControl(file: string): Promise<void> {
    return removeControl(file);
  }

  /** Closes the journal file (the gateway stops). */
  async close(): Promise<void> {
    await this.segmentWriter.close();
    await this.journal?.fh.close();
    this.journal = undefined;
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

