import type { Logger } from '../../common/log';
import { deliveryIdLine, JUNK_HINT } from '../common';
import type { OutboundTransport } from '../outbound/types';
import { QueueError, isComplete, type DeliveryResult, type PendingControl, type QueueEntry, type QueueFolder, type QueuedRecipient } from '../queue';
import { NoPlacementError, type LmtpTarget, type Router } from '../routing';
import { retryDelay, type RetrySchedule } from './backoff';
import type { LmtpDelivery } from './lmtp';

/** Prepended to a Junk delivery: the node's LMTP files the message into the recipient's Junk folder. */
const JUNK_HINT_LINE = Buffer.from(`${JUNK_HINT}\r\n`, 'latin1');

/**
 * Builds the bounce (RFC 3464 DSN) for recipients that failed for good. The
 * outbound slice's `buildDsn` (mail-runtime/smtp/outbound/dsn.ts) plugs in
 * here; without one the failure is logged and no DSN is sent (see
 * gateway/start.ts: TODO until that lands).
 */
export type DsnBuilder = (input: {
  entry: QueueEntry;
  failed: readonly { address: string; reply: string }[];
  message: Buffer;
  /** Our host name, the DSN's Reporting-MTA. */
  reportingMta: string;
}) => Buffer | Promise<Buffer>;

export interface DeliveryMetrics {
  /** One recipient's attempt ended this way. */
  result(status: DeliveryResult['status'], via: 'lmtp' | 'outbound' | 'queue'): void;
  /** One recipient was delivered `seconds` after the gateway accepted the message (its receivedAt): the delivery latency. */
  delivered?(via: 'lmtp' | 'outbound', seconds: number): void;
}

export interface RunnerOptions {
  /** The gateway's own folder: new mail arrives here, DSNs are queued here. */
  folder: QueueFolder;
  router: Router;
  lmtp: LmtpDelivery;
  /** Remote recipients; absent: they stay deferred (and bounce at expiry). */
  outbound?: OutboundTransport;
  buildDsn?: DsnBuilder;
  hostname: string;
  /** RuntimeConfig queue.deliveryConcurrency. */
  concurrency: number;
  retry: RetrySchedule;
  /** RuntimeConfig queue.expireHours in ms: the lifetime of the DSNs this runner queues. */
  expireMs: number;
  /** How often operator requests (control/) are looked for. */
  controlPollMs?: number;
  log: Logger;
  metrics?: DeliveryMetrics;
}

interface Tracked {
  folder: QueueFolder;
  entry: QueueEntry;
  due: number;
  /** Bumped at every (re)schedule; heap items of older versions are stale. */
  version: number;
  busy: boolean;
  /** Became due while an attempt was running: run again right after it. */
  rerun?: boolean;
  removed: boolean;
  /** Operator requests that arrived during an attempt, applied right after it. */
  retryRequested?: boolean;
  deleteRequested?: boolean;
}

/** A min-heap of (due, tracked, version): the next entry to wake for. */
class DueHeap {
  private items: { due: number; t: Tracked; version: number }[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): { due: number; t: Tracked; version: number } | undefined {
    return this.items[0];
  }
  push(item: { due: number; t: Tracked; version: number }): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.due <= a[i]!.due) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): { due: number; t: Tracked; version: number } | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.due < a[m]!.due) m = l;
        if (r < a.length && a[r]!.due < a[m]!.due) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** First in, first out, O(1) both ways (Array#shift is O(n): a start with 100,000 due entries would crawl). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const CONTROL_POLL_MS = 2000;
/** How recent a passed ownership check may be to stand for the one before a delivery (owner.ts checkRecent). */
const OWNER_LOOK_MS = 250;
/** A deferral because the node did not answer (lmtp.ts networkReply): retried at once when that node answers again. */
const UNREACHABLE = /^451 4\.4\.[12] /;

/** Reply recorded for recipients an operator deleted (`mailfleet queue delete`). */
export const DELETED_REPLY = '550 5.0.0 deleted by the operator (mailfleet queue delete); no DSN sent';

const targetKey = (t: LmtpTarget): string => `${t.host}:${t.port}`;

/** Seconds from the gateway's acceptance (receivedAt) to now; never negative (a clock step back). */
function latencySeconds(entry: QueueEntry): number {
  return Math.max(0, (Date.now() - Date.parse(entry.receivedAt)) / 1000);
}

/**
 * The delivery workers: take due entries from the queue folders this gateway
 * owns and deliver them — hosted recipients over LMTP to the node the Router
 * names, the others through the outbound transport — at most
 * `concurrency` deliveries at once (recording their results holds no
 * delivery slot, see pump). Every attempt's per-recipient results are recorded
 * durably (folder.save/remove) before the entry is scheduled again, so a
 * restart never delivers a recipient twice that was recorded as delivered.
 * Temporary failures stay queued with exponential backoff until the entry
 * expires; permanent ones, and expiry, bounce (DSN) unless the sender is <>.
 */
export class QueueRunner {
  private readonly tracked = new Map<string, Tracked>();
  private readonly folders = new Map<string, QueueFolder>();
  private readonly heap = new DueHeap();
  private readonly ready = new Fifo<Tracked>();
  /** Attempts holding a delivery slot (at most `concurrency`). */
  private inFlight = 0;
  /** Attempts past their deliveries, recording the results without a slot (at most `concurrency`, see pump). */
  private recording = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private controlTimer: NodeJS.Timeout | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  /** Entries deferred because a node did not answer, by node. */
  private readonly waitingOn = new Map<string, Set<Tracked>>();
  private stopped = false;

  constructor(private readonly opts: RunnerOptions) {}

  /** Entries known (pending delivery or in flight), over all folders. */
  get size(): number {
    return this.tracked.size;
  }

  /** Loads the own folder and starts delivering; new mail is picked up as it is queued. */
  async start(): Promise<void> {
    await this.adopt(this.opts.folder);
    this.opts.folder.onEnqueued = (entry) => this.add(this.opts.folder, entry);
    this.controlTimer = setInterval(() => void this.pollControls(), this.opts.controlPollMs ?? CONTROL_POLL_MS);
    this.controlTimer.unref();
  }

  /**
   * Delivers a folder's entries too: this gateway's own at start (on their
   * schedule), a dead gateway's after a takeover (`now`: its schedule was
   * made against its own view of the nodes, so everything is tried at once).
   */
  async adopt(folder: QueueFolder, opts: { now?: boolean } = {}): Promise<number> {
    this.folders.set(folder.name, folder);
    const { entries, problems } = await folder.scan();
    for (const p of problems) this.opts.log.error({ folder: folder.name, queueId: p.id, problem: p.error }, 'queue entry unreadable: left in place, not delivered');
    for (const e of entries) this.add(folder, opts.now ? { ...e, nextAttemptAt: undefined } : e);
    this.opts.log.info({ folder: folder.name, entries: entries.length, epoch: folder.epoch }, 'queue folder adopted');
    return entries.length;
  }

  private add(folder: QueueFolder, entry: QueueEntry): void {
    if (this.stopped) return;
    const key = `${folder.name}/${entry.id}`;
    if (this.tracked.has(key)) return;
    const t: Tracked = { folder, entry, due: 0, version: 0, busy: false, removed: false };
    this.tracked.set(key, t);
    this.schedule(t, entry.nextAttemptAt ? Date.parse(entry.nextAttemptAt) : 0);
  }

  private schedule(t: Tracked, due: number): void {
    t.version++;
    // Never later than the expiry: a message must bounce on time even while its retries are spaced out.
    t.due = Math.min(due, Date.parse(t.entry.expiresAt));
    if (t.due <= Date.now()) this.ready.push(t);
    else {
      this.heap.push({ due: t.due, t, version: t.version });
      this.arm();
    }
    this.pump();
  }

  private arm(): void {
    const top = this.heap.peek();
    if (!top || this.stopped) return;
    if (this.timer && this.timerDue <= top.due) return;
    clearTimeout(this.timer);
    this.timerDue = top.due;
    // setTimeout holds 2^31-1 ms at most; a later due is re-armed when this one fires.
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, top.due - Date.now()), 2 ** 31 - 1));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = Date.now();
    for (let top = this.heap.peek(); top && top.due <= now; top = this.heap.peek()) {
      this.heap.pop();
      if (top.version === top.t.version && !top.t.removed) this.ready.push(top.t);
    }
    this.arm();
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.opts.concurrency && this.ready.length > 0) {
      const t = this.ready.shift()!;
      if (t.removed || t.due > Date.now()) continue;
      if (t.busy) {
        t.rerun = true;
        continue;
      }
      this.inFlight++;
      t.busy = true;
      let holdsSlot = true;
      // The deliveries are done, only their recording is left (a journal
      // fsync, DSNs): the slot goes to the next entry. Issue 14: the record
      // took a quarter to a third of an attempt under an SMTP burst, and
      // holding the slot for it capped delivery at `concurrency` / attempt
      // time while the queue grew by seconds. The entry stays busy until its
      // results are durable, so it is not attempted again before (the
      // recording rule above is unchanged); recordings without a slot are
      // bounded by `concurrency` too, past that an attempt keeps its slot.
      const releaseSlot = (): void => {
        if (!holdsSlot || this.recording >= this.opts.concurrency) return;
        holdsSlot = false;
        this.inFlight--;
        this.recording++;
        this.pump();
      };
      this.attempt(t, releaseSlot)
        .catch((err: unknown) => this.failedAttempt(t, err))
        .finally(() => {
          if (holdsSlot) this.inFlight--;
          else this.recording--;
          t.busy = false;
          this.afterAttempt(t);
          this.pump();
          const busy = this.inFlight + this.recording;
          if (busy === 0) for (const w of this.drainWaiters.splice(0)) w();
          if (busy === 0 && this.ready.length === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }

  /** An attempt that could not even record its results (I/O, fenced): nothing was acknowledged, try again later. */
  private failedAttempt(t: Tracked, err: unknown): void {
    if (err instanceof QueueError && err.code === 'FENCED') {
      this.opts.log.warn({ folder: t.folder.name, err: err.message }, 'queue folder taken over: delivering nothing more from it');
      this.forget(t.folder);
      return;
    }
    this.opts.log.error({ err, folder: t.folder.name, queueId: t.entry.id }, 'delivery attempt failed');
    if (!t.removed) this.schedule(t, Date.now() + this.opts.retry.firstMs);
  }

  private afterAttempt(t: Tracked): void {
    if (t.removed) return;
    if (t.deleteRequested) {
      t.deleteRequested = false;
      void this.applyDelete(t).catch((err: unknown) => this.failedAttempt(t, err));
      return;
    }
    if (t.retryRequested || t.rerun) {
      const due = t.retryRequested ? 0 : t.due;
      t.retryRequested = false;
      t.rerun = false;
      this.schedule(t, due);
    }
  }

  /** Stops delivering from a folder (it was taken over): its entries are the new owner's now. */
  private forget(folder: QueueFolder): void {
    this.folders.delete(folder.name);
    for (const [key, t] of this.tracked) {
      if (t.folder === folder) {
        t.removed = true;
        this.tracked.delete(key);
      }
    }
  }

  private untrack(t: Tracked): void {
    t.removed = true;
    this.tracked.delete(`${t.folder.name}/${t.entry.id}`);
  }

  /** `delivered`: called once the recipients' deliveries are over (results known, not yet recorded). */
  private async attempt(t: Tracked, delivered: () => void): Promise<void> {
    // Before delivering, not only before recording: a gateway whose folder was taken over must not deliver what the new owner will.
    await t.folder.owner.checkRecent(OWNER_LOOK_MS);
    const now = Date.now();
    const entry: QueueEntry = structuredClone(t.entry);
    const pending = entry.recipients.filter((r) => r.status === 'pending');
    const newlyFailed: QueuedRecipient[] = [];
    let message: Buffer | undefined;
    if (pending.length > 0 && now >= Date.parse(entry.expiresAt)) {
      // RFC 3463 X.4.7: delivery time expired. The last reply says why.
      for (const r of pending) {
        this.finish(r, 'failed', `550 5.4.7 not delivered before the queue lifetime ran out${r.lastReply ? ` (last reply: ${r.lastReply})` : ''}`, now);
        this.opts.metrics?.result('failed', 'queue');
        newlyFailed.push(r);
      }
    } else if (pending.length > 0) {
      message = await t.folder.readMessage(entry);
      const results = await this.deliver(entry, pending, message, t);
      delivered();
      pending.forEach((r, i) => {
        const res = results[i]!;
        r.attempts++;
        if (res.status === 'deferred') r.lastReply = res.reply;
        else {
          this.finish(r, res.status, res.reply, Date.now());
          if (res.status === 'failed') newlyFailed.push(r);
        }
      });
    }
    if (newlyFailed.length > 0) {
      // The DSN is queued before the results are recorded: a crash in between sends it twice rather than never.
      // A DSN that cannot be queued must not cost the recorded deliveries, though: log it and record.
      try {
        await this.bounce(entry, newlyFailed, message ?? (await t.folder.readMessage(entry)));
      } catch (err) {
        this.opts.log.error({ err, queueId: entry.id, to: entry.mailFrom }, 'DSN could not be queued');
      }
    }
    if (isComplete(entry)) {
      await t.folder.remove(entry.id);
      this.untrack(t);
      return;
    }
    const attempts = Math.max(...entry.recipients.filter((r) => r.status === 'pending').map((r) => r.attempts));
    entry.nextAttemptAt = new Date(Date.now() + retryDelay(attempts, this.opts.retry)).toISOString();
    await t.folder.save(entry);
    t.entry = entry;
    this.schedule(t, Date.parse(entry.nextAttemptAt));
  }

  private finish(r: QueuedRecipient, status: 'delivered' | 'failed', reply: string, at: number): void {
    r.status = status;
    r.lastReply = reply;
    r.doneAt = new Date(at).toISOString();
  }

  /** One result per pending recipient, in order: LMTP per node, outbound for the rest. */
  private async deliver(entry: QueueEntry, pending: readonly QueuedRecipient[], message: Buffer, t: Tracked): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = new Array<DeliveryResult>(pending.length);
    // One LMTP transaction per node and folder: the Junk hint is a header field of the message (../common/folder-hint.ts).
    const byNode = new Map<string, { node: LmtpTarget; junk: boolean; idx: number[] }>();
    const remote: number[] = [];
    await Promise.all(
      pending.map(async (r, i) => {
        try {
          const route = await this.opts.router.route(r.address);
          if (route.kind === 'local') {
            const junk = r.folder === 'junk';
            const key = `${targetKey(route.node)}${junk ? ' junk' : ''}`;
            const group = byNode.get(key) ?? { node: route.node, junk, idx: [] };
            group.idx.push(i);
            byNode.set(key, group);
          } else if (route.kind === 'remote') remote.push(i);
          // The user was removed after the message was accepted: RFC 3463 5.1.1.
          else results[i] = { status: 'failed', reply: `550 5.1.1 <${r.address}>: no such user here any more` };
        } catch (err) {
          if (!(err instanceof NoPlacementError)) this.opts.log.error({ err, rcpt: r.address }, 'routing failed');
          results[i] = { status: 'deferred', reply: `451 4.3.0 <${r.address}>: ${err instanceof NoPlacementError ? 'no node placed for this mailbox' : 'routing failed'}` };
        }
      }),
    );
    const jobs: Promise<void>[] = [];
    for (const { node, junk, idx } of byNode.values()) {
      const nodeKey = targetKey(node);
      // Every attempt carries the entry's id, so the node writes the message once however often it is attempted
      // (a lost reply, a gateway killed before it recorded "delivered", a takeover: ../common/delivery-id.ts).
      const body = Buffer.concat([...(junk ? [JUNK_HINT_LINE] : []), deliveryIdLine(entry.id), message]);
      jobs.push(
        this.opts.lmtp.deliver(node, entry.mailFrom, idx.map((i) => pending[i]!.address), body).then((res) => {
          let anyAnswer = false;
          idx.forEach((i, k) => {
            results[i] = res[k]!;
            this.opts.metrics?.result(res[k]!.status, 'lmtp');
            if (res[k]!.status === 'delivered') this.opts.metrics?.delivered?.('lmtp', latencySeconds(entry));
            if (!UNREACHABLE.test(res[k]!.reply)) anyAnswer = true;
          });
          if (anyAnswer) this.nodeAnswered(nodeKey);
          else this.waitFor(nodeKey, t);
        }),
      );
    }
    if (remote.length > 0) {
      const addrs = remote.map((i) => pending[i]!.address);
      jobs.push(
        (this.opts.outbound
          ? this.opts.outbound.deliver(entry, addrs, message).catch((err: unknown) => {
              this.opts.log.error({ err }, 'outbound transport failed');
              return addrs.map((): DeliveryResult => ({ status: 'deferred', reply: '451 4.4.0 outbound transport error' }));
            })
          : Promise.resolve(addrs.map((): DeliveryResult => ({ status: 'deferred', reply: '451 4.4.0 no outbound transport configured on this gateway' })))
        ).then((res) => {
          remote.forEach((i, k) => {
            results[i] = res[k] ?? { status: 'deferred', reply: '451 4.4.0 no result from the outbound transport' };
            this.opts.metrics?.result(results[i]!.status, 'outbound');
            if (results[i]!.status === 'delivered') this.opts.metrics?.delivered?.('outbound', latencySeconds(entry));
          });
        }),
      );
    }
    await Promise.all(jobs);
    return results;
  }

  private waitFor(key: string, t: Tracked): void {
    const set = this.waitingOn.get(key) ?? new Set<Tracked>();
    set.add(t);
    this.waitingOn.set(key, set);
  }

  /** A node answered again: what waited for it goes now instead of at its backoff time. */
  private nodeAnswered(key: string): void {
    const set = this.waitingOn.get(key);
    if (!set) return;
    this.waitingOn.delete(key);
    for (const t of set) if (!t.removed && !t.busy) this.schedule(t, 0);
  }

  /** Queues the DSN for recipients that failed for good (not for the null sender, RFC 5321 §4.5.5). */
  private async bounce(entry: QueueEntry, failed: readonly QueuedRecipient[], message: Buffer): Promise<void> {
    const list = failed.map((r) => ({ address: r.address, reply: r.lastReply ?? '' }));
    if (entry.mailFrom === '') {
      this.opts.log.info({ queueId: entry.id, failed: list }, 'delivery failed; no DSN for the null sender');
      return;
    }
    if (!this.opts.buildDsn) {
      this.opts.log.warn({ queueId: entry.id, to: entry.mailFrom, failed: list }, 'delivery failed; no DSN sent (no DSN builder configured)');
      return;
    }
    const dsn = await this.opts.buildDsn({ entry, failed: list, message, reportingMta: this.opts.hostname });
    const id = await this.opts.folder.enqueue(
      {
        mailFrom: '',
        recipients: [{ address: entry.mailFrom, status: 'pending', attempts: 0 }],
        expiresAt: new Date(Date.now() + this.opts.expireMs).toISOString(),
        origin: 'dsn',
      },
      dsn,
    );
    this.opts.log.info({ queueId: entry.id, dsn: id, to: entry.mailFrom, failed: list }, 'delivery failed; DSN queued');
  }

  private async pollControls(): Promise<void> {
    if (this.stopped) return;
    for (const folder of [...this.folders.values()]) {
      let controls: PendingControl[];
      try {
        controls = await folder.controls();
        // A taken-over folder's requests are its new owner's to apply.
        if (controls.length > 0) await folder.owner.check();
      } catch (err) {
        if (err instanceof QueueError && err.code === 'FENCED') {
          this.opts.log.warn({ folder: folder.name, err: err.message }, 'queue folder taken over: delivering nothing more from it');
          this.forget(folder);
          continue;
        }
        this.opts.log.warn({ err, folder: folder.name }, 'cannot read queue control requests');
        continue;
      }
      for (const c of controls) {
        try {
          await this.applyControl(folder, c);
        } catch (err) {
          this.opts.log.error({ err, file: c.file }, 'queue control request failed; will try again');
        }
      }
    }
  }

  private async applyControl(folder: QueueFolder, c: PendingControl): Promise<void> {
    if (!c.request) {
      this.opts.log.warn({ file: c.file, problem: c.problem }, 'invalid queue control request removed');
      await folder.removeControl(c.file);
      return;
    }
    const t = this.tracked.get(`${folder.name}/${c.request.id}`);
    this.opts.log.info({ folder: folder.name, queueId: c.request.id, action: c.request.action, by: c.request.by, known: !!t }, 'operator request');
    if (t && !t.removed) {
      if (c.request.action === 'retry') {
        if (t.busy) t.retryRequested = true;
        else this.schedule(t, 0);
      } else if (t.busy) t.deleteRequested = true;
      else await this.applyDelete(t);
    }
    await folder.removeControl(c.file);
  }

  /** `queue delete`: every pending recipient fails with no DSN, and the entry leaves the queue. */
  private async applyDelete(t: Tracked): Promise<void> {
    const entry = structuredClone(t.entry);
    const now = Date.now();
    for (const r of entry.recipients) if (r.status === 'pending') this.finish(r, 'failed', DELETED_REPLY, now);
    t.version++; // drop any scheduled wake-up
    await t.folder.remove(entry.id);
    this.untrack(t);
  }

  /** Resolves when nothing is in flight (results recorded) and nothing is due (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.recording === 0 && this.ready.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking entries; waits (bounded) for attempts in flight to record their results. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.controlTimer);
    if (this.inFlight + this.recording > 0) {
      await Promise.race([new Promise<void>((r) => this.drainWaiters.push(r)), new Promise<void>((r) => setTimeout(r, graceMs).unref())]);
    }
  }
}
