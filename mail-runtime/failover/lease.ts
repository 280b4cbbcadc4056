import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

/**
 * The site lease of a failover pair, on the shared storage both sites reach
 * (DESIGN.md "Rules that make the cluster safe", issue 13):
 *
 *   <storage>/failover/epochs/<n>   one empty marker per epoch, created O_EXCL;
 *                                   the highest marker is the current epoch
 *   <storage>/failover/lease.json   { holder, epoch, renewedAt, ttlMs }
 *
 * The same protocol as the store's mailbox epochs (mail-runtime/store/epoch.ts):
 * markers are separate files, so two takers never race on one
 * read-modify-write, and a taker checks again after creating its marker.
 * The active member renews lease.json; it must stop serving the moment a
 * renewal fails or a higher marker appears (renew() answers false). A
 * controller takes over with epoch = highest + 1.
 */

export const LeaseRecord = z.object({
  holder: z.string().min(1),
  epoch: z.number().int().min(0),
  renewedAt: z.iso.datetime(),
  ttlMs: z.number().int().min(1),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;

export class LeaseError extends Error {
  constructor(
    readonly code: 'CONTENDED' | 'CORRUPT' | 'IO',
    message: string,
  ) {
    super(message);
    this.name = 'LeaseError';
  }
}

/** A pair member may not start: the other site holds the lease (exit non-zero, the message says who and how long). */
export class LeaseHeldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseHeldError';
  }
}

export function failoverDir(storageRoot: string): string {
  return path.join(storageRoot, 'failover');
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class SiteLease {
  private readonly dir: string;
  private readonly epochsDir: string;
  private readonly file: string;

  constructor(
    storageRoot: string,
    private readonly ttlMs: number,
  ) {
    this.dir = failoverDir(storageRoot);
    this.epochsDir = path.join(this.dir, 'epochs');
    this.file = path.join(this.dir, 'lease.json');
  }

  /** Highest epoch marker on disk (-1: none). */
  async highestEpoch(): Promise<number> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.epochsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return -1;
      throw e;
    }
    return names.reduce((max, n) => (/^\d+$/.test(n) ? Math.max(max, Number(n)) : max), -1);
  }

  /**
   * Who took `epoch` (its marker's content), or undefined for a marker
   * without one (written before markers named their holder) or none.
   */
  async markerHolder(epoch: number): Promise<string | undefined> {
    try {
      const text = (await fs.promises.readFile(path.join(this.epochsDir, String(epoch)), 'utf8')).trim();
      return text || undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The lease record, or undefined when none was ever written. */
  async read(): Promise<LeaseRecord | undefined> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new LeaseError('IO', `cannot read ${this.file}: ${(e as Error).message}`);
    }
    const r = LeaseRecord.safeParse(JSON.parse(text));
    if (!r.success) throw new LeaseError('CORRUPT', `${this.file} is not a lease record: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return r.data;
  }

  /** True while the record's holder may still be serving (its last renewal is younger than its TTL). */
  static fresh(rec: LeaseRecord, now = Date.now()): boolean {
    return Date.parse(rec.renewedAt) + rec.ttlMs > now;
  }

  /** Milliseconds until the record's holder has surely stopped serving (0: already). */
  static remainingMs(rec: LeaseRecord, now = Date.now()): number {
    return Math.max(0, Date.parse(rec.renewedAt) + rec.ttlMs - now);
  }

  private async write(rec: LeaseRecord): Promise<void> {
    const tmp = path.join(this.dir, `.lease.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await fs.promises.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(rec));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, this.file);
    await fsyncDir(this.dir);
  }

  /**
   * Take the lease for `holder` with a new, higher epoch. Durable (marker and
   * record fsynced) before it resolves. CONTENDED when another taker got
   * there first (its marker is as high or higher).
   */
  async take(holder: string): Promise<LeaseRecord> {
    await fs.promises.mkdir(this.epochsDir, { recursive: true });
    const epoch = (await this.highestEpoch()) + 1;
    try {
      const fh = await fs.promises.open(path.join(this.epochsDir, String(epoch)), 'wx', 0o600);
      try {
        // The marker names its holder: a renewal of the old holder racing this take can replace lease.json, never this file.
        await fh.writeFile(holder);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LeaseError('CONTENDED', `epoch ${epoch} was taken by someone else at the same moment`);
      throw e;
    }
    await fsyncDir(this.epochsDir);
    const after = await this.highestEpoch();
    if (after > epoch) throw new LeaseError('CONTENDED', `epoch ${after} appeared while taking ${epoch}`);
    const rec: LeaseRecord = { holder, epoch, renewedAt: new Date().toISOString(), ttlMs: this.ttlMs };
    await this.write(rec);
    // Lower markers are history; keep the check one short readdir.
    for (const m of await fs.promises.readdir(this.epochsDir)) {
      if (/^\d+$/.test(m) && Number(m) < epoch) await fs.promises.rm(path.join(this.epochsDir, m), { force: true });
    }
    return rec;
  }

  /**
   * Renew `holder`'s lease at `epoch`. False when it is lost (a higher
   * epoch exists, or the record names someone else): the caller must stop
   * serving at once.
   */
  async renew(holder: string, epoch: number): Promise<boolean> {
    if ((await this.highestEpoch()) > epoch) return false;
    const cur = await this.read();
    if (cur && (cur.epoch > epoch || (cur.epoch === epoch && cur.holder !== holder))) return false;
    await this.write({ holder, epoch, renewedAt: new Date().toISOString(), ttlMs: this.ttlMs });
    // A taker may have created its marker while we wrote: look once more.
    return (await this.highestEpoch()) <= epoch;
  }
}
