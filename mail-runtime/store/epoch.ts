import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDir, fsyncDir, isErrno, readdirOrEmpty, type StoreContext } from './fsutil';
import { StoreError } from './types';

/**
 * Ownership fencing (DESIGN.md "Rules that make the cluster safe").
 *
 * Each owner of a user's mailbox writes an empty marker file
 * `<user>/mailfleet/user/epochs/<epoch>` before it reads or writes anything.
 * A writer is stale as soon as a marker with a higher number exists. Markers
 * are separate files created with O_EXCL, so two nodes never race on one
 * read-modify-write. Every write batch checks before (refuse early) and after
 * its fsync (never acknowledge what a newer owner may not see), together with
 * the caller's `stillOwner()` lease check.
 */
export class Owner {
  private fencedReason: string | null = null;

  constructor(
    private readonly ctx: StoreContext,
    private readonly epochsDir: string,
    readonly epoch: number,
    private readonly stillOwner?: () => boolean | Promise<boolean>,
    private readonly canWrite?: () => boolean,
  ) {}

  get fenced(): boolean {
    return this.fencedReason !== null;
  }

  fence(reason: string): void {
    if (this.fencedReason === null) this.fencedReason = reason;
  }

  /** Record our epoch on disk; refuse if a higher one is already there. */
  async claim(): Promise<void> {
    if (!Number.isSafeInteger(this.epoch) || this.epoch < 0) throw new StoreError('CANNOT', `epoch must be a non-negative integer, got ${this.epoch}`);
    await ensureDir(this.ctx, this.epochsDir);
    await this.checkMarkers();
    const marker = path.join(this.epochsDir, String(this.epoch));
    try {
      const fh = await fs.promises.open(marker, 'wx', 0o600);
      await fh.close();
      await fsyncDir(this.ctx, this.epochsDir);
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
    }
    // Check again: a higher owner may have claimed between our check and our marker.
    await this.checkMarkers();
    // Lower markers are history; drop them so the check stays one short readdir.
    for (const m of await readdirOrEmpty(this.epochsDir)) {
      const n = Number(m);
      if (/^\d+$/.test(m) && n < this.epoch) await fs.promises.rm(path.join(this.epochsDir, m), { force: true });
    }
  }

  /** Highest epoch marker on disk. */
  private async highestOnDisk(): Promise<number> {
    let max = -1;
    for (const m of await readdirOrEmpty(this.epochsDir)) {
      if (/^\d+$/.test(m)) max = Math.max(max, Number(m));
    }
    return max;
  }

  private async checkMarkers(): Promise<void> {
    if (this.fencedReason !== null) throw this.staleError();
    const max = await this.highestOnDisk();
    if (max > this.epoch) {
      this.fence(`epoch ${max} on disk is newer than ours (${this.epoch})`);
      throw this.staleError();
    }
  }

  /** Before a write: refuse if the caller may not write now (lease) or a newer owner exists. */
  async checkBeforeWrite(): Promise<void> {
    // Refused without fencing the owner: a batch of another folder already
    // past this check must still finish and be acknowledged (a move drains
    // writes in flight before it releases the mailbox, see MailStore.release).
    if (this.canWrite && this.fencedReason === null && !this.canWrite()) {
      throw new StoreError('STALE_EPOCH', 'this node may not write to the mailbox now (its lease lapsed, or the mailbox is moving); write refused');
    }
    await this.checkMarkers();
  }

  /** After a durable write, before acknowledging: markers and lease. */
  async checkAfterWrite(): Promise<void> {
    // Lease first, markers last: a takeover that happens while the lease
    // check is pending must still be seen before we acknowledge.
    if (this.fencedReason !== null) throw this.staleError();
    if (this.stillOwner) {
      let ok: boolean;
      try {
        ok = await this.stillOwner();
      } catch {
        ok = false;
      }
      if (!ok) {
        this.fence('stillOwner() returned false');
        throw this.staleError();
      }
    }
    await this.checkMarkers();
  }

  staleError(): StoreError {
    return new StoreError('STALE_EPOCH', `mailbox ownership lost (${this.fencedReason ?? 'newer epoch'}); write not acknowledged`);
  }
}
