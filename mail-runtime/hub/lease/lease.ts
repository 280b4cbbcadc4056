import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../common/log';
import { writeFileAtomic } from '../../common/atomic-file';
import { monotonicMs } from '../../common/clock';

/**
 * Which hub is active: a lease on the shared storage, with fencing epochs.
 *
 * Built for NFS semantics: no POSIX lock is trusted across hosts, no wall
 * clock is compared across hosts. What NFS does give atomically is used:
 *
 * - `epochs/<E>` is claimed with link(2), which fails with EEXIST when the
 *   name exists, atomically on the server: of two hubs claiming epoch E one
 *   wins. (On NFSv2/3 a retransmitted LINK can report an error although it
 *   succeeded, so the claimant checks the link count of its own file, the
 *   classic NFS-safe lock-file technique; see link(2) NOTES.)
 * - `lease.json` is replaced with rename(2) (atomic), so a reader sees the
 *   old or the new record, never a torn one; a fresh open() revalidates
 *   (close-to-open consistency), so a reader does not see a cached copy.
 *
 * The active hub rewrites `lease.json` (its epoch and a renewal counter)
 * every renewal interval. A standby watches it: when the record has not
 * changed for `takeoverAfterMs` on the standby's own monotonic clock, it
 * claims the next epoch and becomes active. The active hub may write only
 * while its last successful renewal is younger than `leaseMs`
 * (< takeoverAfterMs), measured from before that renewal started, so it has
 * stopped before any standby can take over; it also steps down as soon as it
 * sees a higher epoch. A hub that was paused (SIGSTOP, a VM freeze) finds its
 * lease lapsed when it wakes and re-checks the epochs before writing again.
 */

export const LeaseRecord = z.strictObject({
  epoch: z.number().int().min(1),
  holder: z.string().min(1),
  url: z.string().min(1),
  /** Renewal counter: changes on every renewal, so a standby can see the active hub is alive without comparing clocks. */
  renewal: z.number().int().nonnegative(),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;

export interface HubLeaseOptions {
  /** `<storage>/hub/lease`. */
  dir: string;
  /** This hub's member id. */
  holder: string;
  /** This hub's URL, published to members through `not_active` answers. */
  url: string;
  renewMs: number;
  /** How long one successful renewal lets the active hub write. */
  leaseMs: number;
  /** Unchanged record for this long: the active hub is gone. Must exceed leaseMs. */
  takeoverAfterMs: number;
  log: Logger;
  /** This hub became active with `epoch`. */
  onActive: (epoch: number) => Promise<void> | void;
  /** This hub is no longer active (a higher epoch, or its lease lapsed). */
  onStandby: (why: string) => Promise<void> | void;
}

/** Claim files kept besides the newest (history for operators; older ones are removed). */
const EPOCHS_KEPT = 16;

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

export class HubLease {
  private active = false;
  private epoch = 0;
  private renewal = 0;
  /** Monotonic time the last successful renewal started. */
  private renewedAt = -Infinity;
  /** Standby: last record seen and when (monotonic) it last changed. */
  private seen: { key: string; at: number } | undefined;
  private known: LeaseRecord | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly o: HubLeaseOptions) {
    if (o.takeoverAfterMs <= o.leaseMs) throw new Error('takeoverAfterMs must exceed leaseMs');
  }

  private get leaseFile(): string {
    return join(this.o.dir, 'lease.json');
  }

  private get epochsDir(): string {
    return join(this.o.dir, 'epochs');
  }

  /** Starts the renew/watch loop; the first round runs at once. */
  async start(): Promise<void> {
    await fs.mkdir(this.epochsDir, { recursive: true });
    await this.tick();
    this.schedule();
  }

  /**
   * Rounds start every renewMs, counted from the start of the previous
   * round: a renewal whose durable write is slow (a busy disk) must not push
   * the next one out, or the lease (leaseMs from the start of a renewal)
   * lapses between two successful renewals.
   */
  private schedule(lastStart = monotonicMs()): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        const start = monotonicMs();
        this.running = this.tick().finally(() => this.schedule(start));
      },
      Math.max(0, this.o.renewMs - (monotonicMs() - lastStart)),
    );
  }

  /** True while this hub may write: active, and the last renewal is younger than the lease. */
  holds(): boolean {
    return this.active && monotonicMs() - this.renewedAt < this.o.leaseMs;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  /** The active hub's URL as last read from the lease (this hub's own when active). */
  get activeUrl(): string | undefined {
    return this.active ? this.o.url : this.known?.url;
  }

  /** Step down and stop renewing (the process is stopping). The record is left to lapse: a standby takes over after takeoverAfterMs. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running.catch(() => undefined);
    if (this.active) {
      this.active = false;
      await this.o.onStandby('stopping');
    }
  }

  private async readRecord(): Promise<LeaseRecord | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.leaseFile, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    const parsed = LeaseRecord.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.leaseFile} is not a lease record`);
    return parsed.data;
  }

  private async highestEpoch(): Promise<number> {
    let max = 0;
    for (const name of await fs.readdir(this.epochsDir)) if (/^\d+$/.test(name)) max = Math.max(max, Number(name));
    return max;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.active) await this.renew();
      else await this.watch();
    } catch (err) {
      this.o.log.warn({ err }, 'hub lease: storage error');
      if (this.active && !this.holds()) await this.stepDown('lease lapsed: renewals failed');
    }
  }

  private async renew(): Promise<void> {
    const started = monotonicMs();
    // Paused past our lease? Then a standby may already be active: look before writing anything.
    const highest = await this.highestEpoch();
    if (highest > this.epoch) {
      await this.stepDown(`epoch ${highest} claimed by another hub`);
      return;
    }
    const record: LeaseRecord = { epoch: this.epoch, holder: this.o.holder, url: this.o.url, renewal: ++this.renewal };
    await this.writeRecord(record);
    // The epoch check above may be stale by the time the record landed; check once more before extending.
    if ((await this.highestEpoch()) > this.epoch) {
      await this.stepDown('a higher epoch appeared while renewing');
      return;
    }
    this.renewedAt = started;
  }

  private async writeRecord(record: LeaseRecord): Promise<void> {
    await writeFileAtomic(this.leaseFile, JSON.stringify(record), { durable: true });
  }

  private async watch(): Promise<void> {
    const record = await this.readRecord();
    const highest = await this.highestEpoch();
    const now = monotonicMs();
    const key = record ? `${record.epoch}:${record.holder}:${record.renewal}` : `none:${highest}`;
    if (!this.seen || this.seen.key !== key) this.seen = { key, at: now };
    this.known = record;
    // A new cluster (nothing ever claimed), or our own record from before a restart: no one else can be active.
    const fresh = !record && highest === 0;
    const ours = record?.holder === this.o.holder;
    if (!fresh && !ours && now - this.seen.at < this.o.takeoverAfterMs) return;
    await this.claim(Math.max(highest, record?.epoch ?? 0) + 1);
  }

  private async claim(epoch: number): Promise<void> {
    const tmp = join(this.epochsDir, `.claim.${this.o.holder}.${randomBytes(4).toString('hex')}`);
    await fs.writeFile(tmp, JSON.stringify({ holder: this.o.holder, url: this.o.url }), { mode: 0o600 });
    let won: boolean;
    try {
      await fs.link(tmp, join(this.epochsDir, String(epoch)));
      won = true;
    } catch (err) {
      // NFS: a retried LINK may report EEXIST although ours succeeded; our file's link count tells.
      won = (await fs.stat(tmp)).nlink === 2;
      if (!won && !isErrno(err, 'EEXIST')) throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    if (!won) {
      this.o.log.info({ epoch }, 'hub lease: another hub claimed the epoch first');
      this.seen = undefined;
      return;
    }
    const started = monotonicMs();
    this.epoch = epoch;
    this.renewal = 0;
    await this.writeRecord({ epoch, holder: this.o.holder, url: this.o.url, renewal: 0 });
    this.renewedAt = started;
    this.active = true;
    this.o.log.info({ epoch }, 'hub lease: this hub is active');
    await this.trimEpochs(epoch);
    try {
      await this.o.onActive(epoch);
    } catch (err) {
      this.o.log.error({ err }, 'hub lease: taking over failed; stepping down');
      await this.stepDown('takeover failed');
      return;
    }
    // Taking over (opening the databases) ran on the claim's renewal; the next
    // round is a renewal interval away. Renew now, so the lease does not lapse
    // (every call answered not_active) in the first second of being active.
    await this.renew().catch((err: unknown) => this.o.log.warn({ err }, 'hub lease: storage error'));
  }

  private async trimEpochs(newest: number): Promise<void> {
    for (const name of await fs.readdir(this.epochsDir)) {
      if (/^\d+$/.test(name) && Number(name) <= newest - EPOCHS_KEPT) await fs.rm(join(this.epochsDir, name), { force: true });
    }
  }

  private async stepDown(why: string): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.renewedAt = -Infinity;
    this.seen = undefined;
    this.o.log.warn({ epoch: this.epoch, why }, 'hub lease: this hub is no longer active');
    await this.o.onStandby(why);
  }
}
