import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, isErrno, readdirOrEmpty, writeFileAtomic, yieldToLoop, YIELD_EVERY_ITEMS, type StoreContext } from './fsutil';
import { DeliveryIds } from './deliveries';
import { readCache } from './index-cache';
import { checkStored, IndexRecord, parseSnapshot, type SnapshotFile } from './on-disk';
import type { IndexState, LoadedIndex, Msg } from './index-state';
import { StoreError } from './types';
import { ExpungeLog } from './vanished';

export type { IndexRecord } from './on-disk';

/**
 * The per-folder index on disk, in `<maildir>/mailfleet/`:
 *
 *   snapshot.<epoch>.json        full state, written atomically (tmp+fsync+rename+fsync dir)
 *   index.<epoch>.<gen>.log      JSON lines appended after that snapshot, fsynced per batch
 *
 * A snapshot of epoch E names the log generation that follows it (`gen`).
 * Readers with epoch O take the highest snapshot epoch S <= O and replay
 * only logs of epoch S from `gen` on. An owner writes its own snapshot before
 * its first log record (on takeover it snapshots what it read), so once
 * `snapshot.O` exists nothing written later under a lower epoch is read
 * again: a paused zombie's late appends land in files the new owner ignores.
 */

const SNAP_RE = /^snapshot\.(\d+)\.json$/;
const LOG_RE = /^index\.(\d+)\.(\d+)\.log$/;

export function snapshotPath(metaDir: string, epoch: number): string {
  return path.join(metaDir, `snapshot.${epoch}.json`);
}
export function logPath(metaDir: string, epoch: number, gen: number): string {
  return path.join(metaDir, `index.${epoch}.${gen}.log`);
}

class Retry extends Error {}

/**
 * `legacyIds(uidValidity)(uid)`: the EMAILID of a message the index lists without one
 * (written before ids were stored, see ./email-id.ts).
 */
export async function loadIndex(metaDir: string, epoch: number, legacyIds: (uidValidity: number) => (uid: number) => string): Promise<LoadedIndex> {
  // A zombie compacting concurrently may delete a log between our readdir and
  // our read: list again (bounded).
  for (let attempt = 0; ; attempt++) {
    try {
      return await loadOnce(metaDir, epoch, legacyIds);
    } catch (e) {
      // Still racing after a few tries: a temporary condition, answered like an I/O error (try again later).
      if (!(e instanceof Retry) || attempt >= 4) throw e instanceof Retry ? new StoreError('IO', `index in ${metaDir} keeps changing under us`) : e;
    }
  }
}

async function loadOnce(metaDir: string, epoch: number, legacyIds: (uidValidity: number) => (uid: number) => string): Promise<LoadedIndex> {
  const entries = await readdirOrEmpty(metaDir);
  let snapEpoch = -1;
  for (const e of entries) {
    const m = SNAP_RE.exec(e);
    if (m && Number(m[1]) <= epoch) snapEpoch = Math.max(snapEpoch, Number(m[1]));
  }
  if (snapEpoch < 0) {
    // A new folder starts at HIGHESTMODSEQ 1: RFC 7162 §3.1.2.1 wants a
    // non-zero value even for an empty mailbox, and the first change must
    // then be above what a client may already have seen.
    return { state: { uidValidity: 0, uidNext: 1, highestModseq: 1, messages: [], expunges: new ExpungeLog(), deliveries: new DeliveryIds() }, snapshotEpoch: -1, snapshotGen: 0, lastGen: -1, torn: false, replayed: 0 };
  }
  // The binary cache of exactly these snapshot and log files, if there is one (./index-cache.ts): one read, no JSON.
  const cached = await readCache(metaDir, entries, snapEpoch);
  if ('loaded' in cached) return { ...cached.loaded, cache: 'hit' };
  const snapFile = snapshotPath(metaDir, snapEpoch);
  let snapText: string;
  try {
    snapText = await fs.promises.readFile(snapFile, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new Retry();
    throw e;
  }
  // Written whole (tmp + fsync + rename): anything but a valid snapshot is damage, not a torn write.
  const snap = parseSnapshot(snapText, snapFile);
  const byUid = new Map<number, Msg>();
  const legacyId = legacyIds(snap.uidValidity);
  for (const [uid, base, flags, d, size, modseq, emailId] of snap.messages) {
    byUid.set(uid, { uid, base, flags, internalDate: new Date(d), size, modseq, emailId: emailId ?? legacyId(uid) });
  }
  const state: IndexState = {
    uidValidity: snap.uidValidity,
    uidNext: snap.uidNext,
    highestModseq: snap.highestModseq,
    messages: [],
    expunges: new ExpungeLog(snap.expunged ?? [], snap.expungedFloor ?? 0),
    deliveries: new DeliveryIds(snap.deliveries ?? []),
    ...(snap.recent === undefined ? {} : { recentUid: snap.recent }),
  };
  const gens = entries
    .map((e) => LOG_RE.exec(e))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) === snapEpoch && Number(m[2]) >= snap.gen)
    .map((m) => Number(m[2]))
    .sort((a, b) => a - b);
  let torn = false;
  let replayed = 0;
  let expectGen = snap.gen;
  for (const g of gens) {
    if (g !== expectGen) throw new Retry(); // a gap: listing raced a compaction
    expectGen++;
    const file = logPath(metaDir, snapEpoch, g);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new Retry();
      throw e;
    }
    const lines = text.split('\n');
    const last = lines.pop();
    if (last !== undefined && last !== '') torn = true; // no newline: never fsynced as a whole, never acknowledged
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        // Unparseable bytes are the torn tail of the last, unacknowledged
        // batch (a crash can persist its pages out of order, so the tear
        // may sit before a newline); the next open starts a new generation.
        torn = true;
        break;
      }
      // A tear never yields valid JSON of the wrong shape: that is damage.
      applyRecord(state, byUid, checkStored(IndexRecord, value, file, `line ${i + 1}`), legacyId);
      replayed++;
    }
  }
  state.messages = [...byUid.values()].sort((a, b) => a.uid - b.uid);
  return { state, snapshotEpoch: snapEpoch, snapshotGen: snap.gen, lastGen: gens.length ? gens[gens.length - 1] : snap.gen - 1, torn, replayed, cache: cached.miss };
}

function applyRecord(state: IndexState, byUid: Map<number, Msg>, rec: IndexRecord, legacyId: (uid: number) => string): void {
  if (rec.t === 'r') {
    // Claims of \Recent change no message, so they carry no MODSEQ.
    state.recentUid = Math.max(state.recentUid ?? 0, rec.u);
    return;
  }
  state.highestModseq = Math.max(state.highestModseq, rec.m);
  switch (rec.t) {
    case 'a':
      byUid.set(rec.u, { uid: rec.u, base: rec.b, flags: rec.f, internalDate: new Date(rec.d), size: rec.s, modseq: rec.m, emailId: rec.e ?? legacyId(rec.u) });
      state.uidNext = Math.max(state.uidNext, rec.u + 1);
      if (rec.k !== undefined) state.deliveries.record(rec.k, rec.d, rec.u);
      break;
    case 'f': {
      const m = byUid.get(rec.u);
      if (m) byUid.set(rec.u, { ...m, flags: rec.f, modseq: rec.m });
      break;
    }
    case 'x':
      for (const u of rec.u) byUid.delete(u);
      state.expunges.record(rec.u, rec.m);
      break;
  }
}

export async function writeSnapshot(ctx: StoreContext, metaDir: string, epoch: number, gen: number, state: IndexState): Promise<void> {
  const snap: SnapshotFile = {
    v: 1,
    epoch,
    gen,
    uidValidity: state.uidValidity,
    uidNext: state.uidNext,
    highestModseq: state.highestModseq,
    ...(state.recentUid === undefined ? {} : { recent: state.recentUid }),
    messages: state.messages.map((m) => [m.uid, m.base, [...m.flags], m.internalDate.getTime(), m.size, m.modseq, m.emailId]),
    expunged: state.expunges.entries(),
    expungedFloor: state.expunges.floor,
    deliveries: state.deliveries.entries(),
  };
  await writeFileAtomic(ctx, snapshotPath(metaDir, epoch), JSON.stringify(snap));
}

/** After snapshot.<epoch> (gen) is durable: drop what it supersedes. Only the current owner calls this. */
export async function removeSuperseded(metaDir: string, epoch: number, gen: number): Promise<void> {
  for (const e of await readdirOrEmpty(metaDir)) {
    const s = SNAP_RE.exec(e);
    const l = LOG_RE.exec(e);
    const drop = (s && Number(s[1]) < epoch) || (l && (Number(l[1]) < epoch || (Number(l[1]) === epoch && Number(l[2]) < gen)));
    if (drop) await fs.promises.rm(path.join(metaDir, e), { force: true });
  }
}

/** Append-only log of one generation; the caller serialises calls. */
export class IndexLog {
  records = 0;
  private constructor(
    private readonly ctx: StoreContext,
    private fh: fs.promises.FileHandle,
    readonly file: string,
  ) {}

  static async open(ctx: StoreContext, file: string): Promise<IndexLog> {
    const fh = await fs.promises.open(file, 'a', 0o600);
    // The new directory entry must be durable before the first record counts.
    await fsyncDir(ctx, path.dirname(file));
    return new IndexLog(ctx, fh, file);
  }

  /** Write the batch's records and fsync once (group commit). */
  async append(records: readonly IndexRecord[]): Promise<void> {
    if (records.length === 0) return;
    const parts: string[] = [];
    for (let i = 0; i < records.length; i++) {
      if (i > 0 && i % YIELD_EVERY_ITEMS === 0) await yieldToLoop();
      parts.push(JSON.stringify(records[i]) + '\n');
    }
    await this.fh.write(parts.join(''));
    await this.fh.sync();
    this.ctx.stats.indexFsyncs++;
    this.records += records.length;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
