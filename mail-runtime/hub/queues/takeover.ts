import { promises as fs } from 'node:fs';
import { monotonicMs } from '../../common/clock';
import type { Logger } from '../../common/log';
import { folderPaths, newestMarker, queueRoot } from '../../smtp/queue';
import type { HubDb } from '../db';
import type { StreamEvent } from '../protocol';

/**
 * Queue takeover of gateways that are gone (issue 12). A gateway's queue
 * folder on the shared storage is owned at an epoch, like a mailbox: the
 * member named by its highest marker (smtp/queue/owner.ts) is the only one
 * that delivers from it. When the registry declares a gateway dead, and it
 * stays dead for `graceMs` (a restart within the grace keeps its own
 * folder; 0 disables takeovers), every folder whose newest marker names it
 * is assigned to a live gateway at the marker's epoch + 1: persisted here,
 * recorded in the activity log, sent on that gateway's stream (`queue`
 * event). The gateway claims the folder at that epoch (QueueFolder.claim)
 * and delivers its entries; from that claim on, the old owner — a zombie
 * that wakes up, or the same gateway restarted — is fenced on that folder
 * and delivers nothing from it (gateway/queue-folders.ts: a restarted
 * gateway starts on a folder of its own).
 *
 * Reconciled, not fire-and-forget: every `intervalMs` the markers on the
 * storage are read again, so an assignment whose event was lost, or whose
 * gateway died before claiming, is sent again or reassigned; a standby hub
 * that takes over continues from the table.
 */
export interface QueueTakeoverOptions {
  db: HubDb;
  storageRoot: string;
  /** How long a gateway must stay dead before its folders move (config `gatewayQueueTakeoverSeconds`); 0: never. */
  graceMs: number;
  intervalMs: number;
  log: Logger;
  /** True while this hub may write (the lease). */
  active(): boolean;
  /** Live gateways' ids now. */
  liveGateways(): string[];
  /** Gateways known dead now. */
  deadGateways(): string[];
  send(memberId: string, event: StreamEvent): boolean;
  /** The activity log's line. */
  record(from: string, detail: string): void;
}

export interface QueueTakeover {
  folder: string;
  from: string;
  to: string;
  epoch: number;
  /** Wall-clock ms of the assignment. */
  assignedAt: number;
  /** The gateway's claim is on the storage (its marker holds this epoch or a newer one of its own). */
  claimed: boolean;
}

interface Row {
  folder: string;
  from_member: string;
  to_member: string;
  epoch: number;
  assigned_at: number;
  claimed: number;
}

/** A pending assignment is sent again after this long without a claim. */
const RESEND_MS = 5000;

export class QueueTakeovers {
  /** Monotonic ms each gateway was seen dead since (declared, or dead when this hub became active). */
  private readonly deadSince = new Map<string, number>();
  private readonly sentAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: QueueTakeoverOptions) {}

  start(): void {
    if (this.o.graceMs <= 0) return;
    // Dead before this hub became active: the grace counts from now.
    for (const id of this.o.deadGateways()) this.deadSince.set(id, monotonicMs());
    this.timer = setInterval(() => void this.reconcile(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** The registry declared a gateway dead. */
  died(id: string): void {
    if (this.o.graceMs <= 0) return;
    this.deadSince.set(id, monotonicMs());
    const t = setTimeout(() => void this.reconcile(), this.o.graceMs + 10);
    t.unref();
  }

  /** A gateway registered (a new incarnation): it is not dead. */
  alive(id: string): void {
    this.deadSince.delete(id);
  }

  list(): QueueTakeover[] {
    return this.o.db
      .prepare<[], Row>('SELECT * FROM queue_takeovers ORDER BY assigned_at DESC, folder')
      .all()
      .map((r) => ({ folder: r.folder, from: r.from_member, to: r.to_member, epoch: r.epoch, assignedAt: r.assigned_at, claimed: r.claimed === 1 }));
  }

  /** One pass; passes never overlap. */
  reconcile(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: unknown) => this.o.log.error({ err }, 'queue takeover: pass failed'))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    if (this.stopped || !this.o.active()) return;
    const now = monotonicMs();
    const dead = new Set([...this.deadSince].filter(([, since]) => now - since >= this.o.graceMs).map(([id]) => id));
    const live = this.o.liveGateways();
    const rows = new Map(this.o.db.prepare<[], Row>('SELECT * FROM queue_takeovers').all().map((r) => [r.folder, r]));
    for (const folder of await this.folders()) {
      if (this.stopped || !this.o.active()) return;
      const marker = await newestMarker(folderPaths(this.o.storageRoot, folder));
      if (!marker?.memberId) continue;
      const row = rows.get(folder);
      if (row && marker.memberId === row.to_member && marker.epoch >= row.epoch) {
        if (row.claimed === 0) {
          this.o.db.prepare('UPDATE queue_takeovers SET claimed = 1 WHERE folder = ?').run(folder);
          this.o.log.info({ folder, gateway: row.to_member, epoch: marker.epoch }, 'queue takeover claimed');
        }
        continue;
      }
      // A pending assignment to a gateway still alive: send it again now and then (the event may have been lost).
      if (row && row.claimed === 0 && live.includes(row.to_member) && marker.epoch < row.epoch) {
        if (now - (this.sentAt.get(folder) ?? -Infinity) >= RESEND_MS) this.sendTo(row.to_member, folder, row.epoch);
        continue;
      }
      if (!dead.has(marker.memberId)) continue;
      if (live.length === 0) {
        this.o.log.warn({ folder, holder: marker.memberId }, 'queue takeover: no live gateway to take the folder');
        continue;
      }
      this.assign(folder, marker.memberId, marker.epoch, row, live);
    }
  }

  /** Gives the folder to the live gateway that took the fewest so far; epoch above the marker and any earlier assignment. */
  private assign(folder: string, from: string, markerEpoch: number, row: Row | undefined, live: readonly string[]): void {
    const load = new Map(live.map((id) => [id, 0]));
    for (const r of this.o.db.prepare<[], { to_member: string; n: number }>('SELECT to_member, COUNT(*) AS n FROM queue_takeovers GROUP BY to_member').all()) {
      if (load.has(r.to_member)) load.set(r.to_member, r.n);
    }
    const to = [...load].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
    const epoch = Math.max(markerEpoch, row?.epoch ?? 0) + 1;
    this.o.db
      .prepare(
        `INSERT INTO queue_takeovers (folder, from_member, to_member, epoch, assigned_at, claimed) VALUES (?, ?, ?, ?, ?, 0)
         ON CONFLICT(folder) DO UPDATE SET from_member = excluded.from_member, to_member = excluded.to_member, epoch = excluded.epoch, assigned_at = excluded.assigned_at, claimed = 0`,
      )
      .run(folder, from, to, epoch, Date.now());
    this.o.log.warn({ folder, from, to, epoch }, 'queue takeover: folder of a gone gateway assigned');
    this.o.record(to, `queue folder ${folder} of gateway ${from} (gone) assigned to ${to} at epoch ${epoch}`);
    this.sendTo(to, folder, epoch);
  }

  private sendTo(to: string, folder: string, epoch: number): void {
    this.sentAt.set(folder, monotonicMs());
    this.o.send(to, { type: 'queue', folder, epoch });
  }

  private async folders(): Promise<string[]> {
    try {
      return (await fs.readdir(queueRoot(this.o.storageRoot), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
