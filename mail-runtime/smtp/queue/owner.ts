import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { QueueError, isErrno } from './errors';
import { fsyncDir } from './fsync';
import type { FolderPaths } from './layout';

/**
 * Who may write a queue folder: the member holding its highest epoch
 * (DESIGN.md "Rules that make the cluster safe", the same fencing as a
 * mailbox's). Claiming writes an empty-ish marker `epochs/<n>` with O_EXCL;
 * a writer is stale as soon as a higher marker exists. The queue checks the
 * markers after every durable batch and before anything is acknowledged
 * (group-commit.ts), so a gateway whose folder was taken over — paused,
 * partitioned, or simply still running — acknowledges nothing more and
 * delivers nothing more from it.
 *
 * Who decides a takeover is the hub's business (issue 12); this is the
 * mechanism: `claimFolder(paths, 'gw-b')` on gw-a's folder makes gw-b its owner.
 */
const Marker = z.strictObject({ memberId: z.string().min(1), claimedAt: z.string() });
export type Marker = z.infer<typeof Marker>;

/** How many times a claim without an explicit epoch retries when another claimant took the same number. */
const CLAIM_ATTEMPTS = 100;

export class FolderOwner {
  private fencedReason: string | null = null;

  constructor(
    private readonly paths: FolderPaths,
    readonly memberId: string,
    readonly epoch: number,
  ) {}

  get fenced(): boolean {
    return this.fencedReason !== null;
  }

  /** Throws FENCED at once when a newer owner was already seen (no I/O). */
  assertOwner(): void {
    if (this.fencedReason !== null) throw new QueueError('FENCED', `queue folder ${this.paths.root}: ${this.fencedReason}`);
  }

  /**
   * Reads the markers (one readdir: it runs after every group commit and
   * before every delivery): throws FENCED, and stays fenced, when one is
   * newer than ours.
   */
  async check(): Promise<void> {
    this.assertOwner();
    const started = Date.now();
    await this.observed(await highestEpoch(this.paths));
    this.checkedAt = Math.max(this.checkedAt, started);
  }

  /**
   * The same verdict as check() from a reading of the markers someone else
   * made (the segment writer thread reads them right after its fsyncs, so
   * the gateway's loop need not go to the disk once more): throws FENCED,
   * and stays fenced, when `highest` is newer than ours.
   */
  async observed(highest: number | undefined): Promise<void> {
    this.assertOwner();
    if (highest === undefined || highest <= this.epoch) return;
    const holder = await readMarker(this.paths, highest);
    this.fencedReason = `taken over by ${holder?.memberId ?? 'another member'} at epoch ${highest} (ours: ${this.epoch})`;
    this.assertOwner();
  }

  /**
   * check(), unless one that started less than `maxAgeMs` ago passed. For
   * the look before a delivery (the check that guards acknowledgements runs
   * after every group commit regardless): a takeover waits for a lapsed
   * lease, seconds, so a look this recent is as good as a new one.
   */
  async checkRecent(maxAgeMs: number): Promise<void> {
    this.assertOwner();
    if (Date.now() - this.checkedAt < maxAgeMs) return;
    // Delivery slots that find the last look too old at the same moment
    // share one check (it starts now, so it is recent for each of them)
    // instead of one readdir each: 16 slots did 16 (issue 14).
    if (!this.recentCheck) {
      const c = this.check().finally(() => {
        if (this.recentCheck === c) this.recentCheck = undefined;
      });
      this.recentCheck = c;
    }
    await this.recentCheck;
  }

  private checkedAt = 0;
  /** The check in flight on behalf of checkRecent callers. */
  private recentCheck: Promise<void> | undefined;
}

async function highestEpoch(paths: FolderPaths): Promise<number | undefined> {
  let names: string[];
  try {
    names = await readdir(paths.epochs);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
  let epoch = -1;
  for (const n of names) if (/^\d+$/.test(n)) epoch = Math.max(epoch, Number(n));
  return epoch < 0 ? undefined : epoch;
}

/** The highest epoch on disk and who holds it (undefined: never claimed). */
export async function newestMarker(paths: FolderPaths): Promise<{ epoch: number; memberId?: string } | undefined> {
  const epoch = await highestEpoch(paths);
  if (epoch === undefined) return undefined;
  const marker = await readMarker(paths, epoch);
  return { epoch, ...(marker ? { memberId: marker.memberId } : {}) };
}

async function readMarker(paths: FolderPaths, epoch: number): Promise<Marker | undefined> {
  try {
    const parsed = Marker.safeParse(JSON.parse(await readFile(join(paths.epochs, String(epoch)), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // Removed by a newer claimant between readdir and read, or being written: the number is what counts.
    return undefined;
  }
}

/**
 * Makes `memberId` the owner of the folder. Without `epoch` it takes the next
 * number above every marker on disk; with one (the hub's, later) that number
 * must be newer than what is there, or already be this member's.
 */
export async function claimFolder(paths: FolderPaths, memberId: string, epoch?: number): Promise<FolderOwner> {
  for (const dir of [paths.root, paths.epochs, paths.seg, paths.journal, paths.control, paths.tmp]) await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const newest = await newestMarker(paths);
    const want = epoch ?? (newest ? newest.epoch + 1 : 1);
    if (newest && newest.epoch > want) {
      throw new QueueError('FENCED', `queue folder ${paths.root}: epoch ${newest.epoch} on disk is newer than ${want}`);
    }
    const file = join(paths.epochs, String(want));
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify({ memberId, claimedAt: new Date().toISOString() } satisfies Marker));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsyncDir(paths.epochs);
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      const holder = await readMarker(paths, want);
      if (epoch === undefined) continue; // someone took this number first: try the next one
      if (holder?.memberId !== memberId) throw new QueueError('FENCED', `queue folder ${paths.root}: epoch ${want} is held by ${holder?.memberId ?? 'another member'}`);
    }
    const owner = new FolderOwner(paths, memberId, want);
    // A newer claimant may have come between our check and our marker.
    await owner.check();
    // Older markers are history; the check stays one short readdir.
    for (const n of await readdir(paths.epochs)) {
      if (/^\d+$/.test(n) && Number(n) < want) await rm(join(paths.epochs, n), { force: true });
    }
    return owner;
  }
  throw new QueueError('FENCED', `queue folder ${paths.root}: could not claim an epoch after ${CLAIM_ATTEMPTS} attempts (claims racing)`);
}
