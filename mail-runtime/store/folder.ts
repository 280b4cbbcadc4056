import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DELIVERY_ID_RE, deliveryIdOfBase } from './deliveries';
import type { Owner } from './epoch';
import { legacyEmailIds, newEmailId } from './email-id';
import { ioError } from './errors';
import {
  adoptFromDovecot,
  readKeywordLetters,
  sizesFromName,
  toCrlf,
  UidlistSync,
  virtualSizeOf,
  writeKeywordLetters,
  type KeywordLetters,
} from './dovecot';
import { applyFlags, baseOfFileName, flagsFromFileName, hasFlag, maildirInfo, normalizeFlags, sameFlags } from './flags';
import { fsyncDir, isErrno, readdirOrEmpty, yieldToLoop, YIELD_EVERY_ITEMS, type StoreContext } from './fsutil';
import { writeFilesDurable } from './message-writer';
import { IndexLog, loadIndex, logPath, removeSuperseded, writeSnapshot, type IndexRecord } from './index-log';
import { countMessage, countsOf, FlagColumn, flagColumnOf, type IndexState, type Msg, type MutableCounts } from './index-state';
import { CACHE_TMP_RE, writeCache } from './index-cache';
import { dirsUnchanged, SCAN_TMP_RE, scanHintHolds, trustedDirMtimes, writeScanHint, type ScanState } from './scan-hint';
import { SUMMARY_TMP_RE, SummaryCache } from './summary-cache';
import { FIELDS_FILE, FIELDS_TMP_RE, FieldsCache } from './fields-cache';
import {
  StoreError,
  isStoreError,
  type AppendItem,
  type AppendResult,
  type DeliveryAppendOptions,
  type CopyResult,
  type ExpungeOptions,
  type FlagOperation,
  type FolderCounts,
  type FolderFlagColumn,
  type FolderEventMap,
  type FolderGoneReason,
  type MessageMeta,
  type StoreFlagsOptions,
  type StoreFlagsResult,
} from './types';

/** What a folder needs from its user (quota, fencing, registry). */
export interface FolderHost {
  readonly ctx: StoreContext;
  readonly owner: Owner;
  readonly address: string;
  /** Throws OVERQUOTA; returns the function that releases the reservation. */
  reserveQuota(bytes: number, messages: number): Promise<() => void>;
  usageDelta(bytes: number, messages: number): void;
  /** The folder died (fenced, I/O error): the registry forgets it so the next open reloads from disk. */
  forgetFolder(folder: FolderImpl): void;
}

/** Meta directory name inside every Maildir folder (no leading dot: Maildir++ would list it as a folder). */
export const META_DIR = 'mailfleet';

/** Renames into cur/ in flight at once when a batch commits (libuv's pool runs them; more would only queue). */
const PARALLEL_RENAMES = 8;

/** Compact the log into a snapshot once it holds this many records (and at least as many as messages). */
const COMPACT_MIN_RECORDS = 1000;

let lastUidValidity = 0;
/** Seconds since 1970, strictly increasing within the process (RFC 3501 §2.3.1.1: a recreated name gets a new value). */
function newUidValidity(): number {
  const v = Math.max(Math.floor(Date.now() / 1000), lastUidValidity + 1) % 0x1_0000_0000 || 1;
  lastUidValidity = v;
  return v;
}

let fileSeq = 0;
/**
 * Maildir unique name (cr.yp.to/proto/maildir.html) with Dovecot's
 * `,S=<bytes on disk>` and, when they differ (a copy of a message Dovecot
 * stored with bare LF), `,W=<RFC822.SIZE>`. A delivered message carries its
 * delivery id in the unique part (`X<id>`, ./deliveries.ts), so a file whose
 * log record a crash lost still names it when the reconcile finds it.
 */
export function newBaseName(host: string, size: number, physical: number = size, deliveryId?: string): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000 + (fileSeq % 1000);
  fileSeq++;
  const id = deliveryId === undefined ? '' : `X${deliveryId}`;
  return `${sec}.M${usec}P${process.pid}Q${fileSeq}R${randomBytes(6).toString('hex')}${id}.${host},S=${physical}${physical === size ? '' : `,W=${size}`}`;
}

/**
 * MODSEQ of the first message of a folder adopted from Dovecot. Dovecot's
 * own MODSEQs live in its binary index; a client with CONDSTORE/QRESYNC may
 * remember one, and ours must not go below it (RFC 7162 §3.1.1: a change
 * always gets a higher MODSEQ). Dovecot adds one per change, so the clock
 * in milliseconds is far above anything it reached: such a client
 * refetches flags once (CHANGEDSINCE), never bodies.
 */
function adoptedFirstModseq(): number {
  return Date.now();
}

function bsearch(list: readonly Msg[], uid: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const u = list[mid].uid;
    if (u === uid) return mid;
    if (u < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Work of one group commit: a copy-on-write view of the state plus what to persist and announce. */
class Batch {
  private list: Msg[];
  private copied = false;
  /** The base state's counts, adjusted by every change of this batch (copied on the first change). */
  private counts: MutableCounts;
  /** The base state's flag column, kept in step with `list` (copied on the first change). */
  private column: FlagColumn;
  uidNext: number;
  highestModseq: number;
  recentUid: number | undefined;
  readonly records: IndexRecord[] = [];
  readonly syncDirs = new Set<string>();
  readonly existsUids: number[] = [];
  readonly expunged: number[] = [];
  /** The expunged messages themselves (their file bases: Dovecot's uidlist, the summary cache). */
  readonly removed: Msg[] = [];
  readonly flagChanges: Msg[] = [];
  /** File renames that make Maildir info letters follow the index (best effort, after commit). */
  readonly renames: [from: string, to: string][] = [];
  bytes = 0;
  count = 0;

  constructor(readonly base: IndexState) {
    this.list = base.messages;
    this.counts = countsOf(base);
    this.column = flagColumnOf(base);
    this.uidNext = base.uidNext;
    this.highestModseq = base.highestModseq;
    this.recentUid = base.recentUid;
  }
  get messages(): readonly Msg[] {
    return this.list;
  }
  get(uid: number): Msg | undefined {
    const i = bsearch(this.list, uid);
    return i < 0 ? undefined : this.list[i];
  }
  private own(): void {
    if (!this.copied) {
      this.list = this.list.slice();
      this.counts = { ...this.counts };
      this.column = this.column.copy();
      this.copied = true;
    }
  }
  add(m: Msg): void {
    this.own();
    this.list.push(m); // UIDs only grow, so the list stays sorted
    countMessage(this.counts, m, 1);
    this.column.push(m);
    this.existsUids.push(m.uid);
    this.bytes += m.size;
    this.count++;
  }
  replace(m: Msg): void {
    this.own();
    const i = bsearch(this.list, m.uid);
    countMessage(this.counts, this.list[i]!, -1);
    countMessage(this.counts, m, 1);
    this.column.set(i, m);
    this.list[i] = m;
  }
  remove(uids: ReadonlySet<number>): void {
    this.own();
    const keep: Msg[] = [];
    for (const m of this.list) {
      if (uids.has(m.uid)) {
        this.bytes -= m.size;
        this.count--;
        this.expunged.push(m.uid);
        this.removed.push(m);
        countMessage(this.counts, m, -1);
      } else keep.push(m);
    }
    this.list = keep;
    this.column = FlagColumn.of(keep);
  }
  toState(): IndexState {
    return {
      uidValidity: this.base.uidValidity,
      uidNext: this.uidNext,
      highestModseq: this.highestModseq,
      messages: this.list,
      expunges: this.base.expunges,
      deliveries: this.base.deliveries,
      counts: this.counts,
      flagColumn: this.column,
      ...(this.recentUid === undefined ? {} : { recentUid: this.recentUid }),
    };
  }
}

interface Op {
  /** Fallible file work first, then mutations of the batch. */
  stage(b: Batch): Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  /** Runs alone, outside a write batch (rename, delete, compaction). */
  exclusive?: boolean;
}

interface PreparedAppend {
  /** The file is `<folder dir>/tmp/<base>`; resolved at commit time so a concurrent folder rename is harmless. */
  base: string;
  size: number;
  flags: string[];
  internalDate: Date;
  /** RFC 8474 §5.1: COPY/MOVE keep the source's EMAILID; absent, a new message gets a new one. */
  emailId?: string;
  /** The delivery's id (./deliveries.ts), recorded with the message. */
  deliveryId?: string;
}

/**
 * The one live object of a folder in this process, shared by every session
 * that has it open. Sessions never hold it directly: the user registry
 * (./user.ts) counts openers and hands each one a FolderHandle
 * (./folder-handle.ts), so the lifetime has a single owner.
 */
export class FolderImpl extends EventEmitter<FolderEventMap> {
  private state: IndexState;
  private log: IndexLog | null = null;
  private gen: number;
  /** Generation the current snapshot names (index.bin records it: ./index-cache.ts). */
  private snapshotGen: number;
  /**
   * index.bin still describes the index files: loaded from it and nothing
   * written since. A clean close then does not write it again (a large
   * folder's cache is megabytes, and a client that logs in and out would
   * rewrite it every time).
   */
  private cacheCurrent = false;
  private queue: Op[] = [];
  private flushing = false;
  private dead: StoreError | null = null;
  /** Deliveries being written now, by id: a second attempt of one waits for the first (append()). */
  private readonly deliveriesInFlight = new Map<string, Promise<void>>();
  private readonly summaries: SummaryCache;
  /** Records for fast header searches (./fields-cache.ts); null without a deriver. */
  private readonly fields: FieldsCache | null;
  /** Records found by base, remembered per message object (a Msg is replaced when its flags change). */
  private readonly recordOf = new WeakMap<Msg, readonly string[]>();
  /** dovecot-uidlist kept in step with the index (./dovecot.ts). */
  private readonly uidlist: UidlistSync;

  private constructor(
    private readonly host: FolderHost,
    private _name: string,
    private dir: string,
    state: IndexState,
    gen: number,
    snapshotGen: number,
    /** dovecot-keywords: the letters keywords have in file names. */
    private readonly keywords: KeywordLetters,
  ) {
    super();
    this.state = state;
    // SEARCH on flags reads the column (./index-state.ts). Derived here, at load: left to the first search, a
    // UID SEARCH right after SELECT paid it (1-2 ms at 100,000 messages, twice Dovecot's answer); a commit needs it anyway.
    flagColumnOf(state);
    this.gen = gen;
    this.snapshotGen = snapshotGen;
    this.summaries = new SummaryCache(path.join(this.metaDir, 'summaries.jsonl'), () => new Set(this.state.messages.map((m) => m.base)));
    this.fields = host.ctx.searchFields ? new FieldsCache(path.join(this.metaDir, FIELDS_FILE), host.ctx.searchFields) : null;
    this.uidlist = new UidlistSync(host.ctx, dir);
    // Sessions subscribe per folder; do not warn at the default 10 listeners.
    this.setMaxListeners(0);
  }

  get name(): string {
    return this._name;
  }
  /** False once the folder died (fenced, deleted, I/O error, shut down). */
  get isAlive(): boolean {
    return this.dead === null;
  }
  get messageCount(): number {
    return this.state.messages.length;
  }
  /**
   * cur/ new/ mtimes when the last handle was released (null: unknown or
   * too recent to trust), being read; undefined when not released.
   */
  private releasedDirs: Promise<{ cur: bigint; new: bigint } | null> | undefined;

  /** The user registry keeps this folder loaded with no handle: remember what its directories looked like. */
  noteReleased(): void {
    this.releasedDirs = trustedDirMtimes(this.dir).catch(() => null);
  }

  /**
   * A lingering folder is handed out again: files dropped into cur/ or new/
   * by hand meanwhile (a migration, a test) are picked up as a fresh open
   * would, unless both directories provably did not change. Waits for the
   * mtimes read at release: a SELECT right after UNSELECT (a client with
   * TCP_NODELAY answers within a millisecond) must not take "not read yet"
   * for "changed" and walk 100,000 names again.
   */
  async refreshIfChanged(): Promise<void> {
    const pending = this.releasedDirs;
    this.releasedDirs = undefined;
    const was = pending === undefined ? null : await pending;
    if (was !== null && (await dirsUnchanged(this.dir, was))) return;
    await this.refresh();
  }

  /** What ./scan-hint.ts compares: the index state and the log generation written to. */
  private scanState(): ScanState {
    const s = this.state;
    return { epoch: this.host.owner.epoch, gen: this.gen, uidValidity: s.uidValidity, uidNext: s.uidNext, highestModseq: s.highestModseq, messages: s.messages.length };
  }
  get uidValidity(): number {
    return this.state.uidValidity;
  }
  get uidNext(): number {
    return this.state.uidNext;
  }
  get highestModseq(): number {
    return this.state.highestModseq;
  }
  expungedSince(modseq: number): { uids: number[]; complete: boolean } {
    return this.state.expunges.since(modseq);
  }
  /** RFC 3501 §2.3.2: UIDs up to this one were announced as \Recent to some session; undefined: not known. */
  get recentUid(): number | undefined {
    return this.state.recentUid;
  }
  private get metaDir(): string {
    return path.join(this.dir, META_DIR);
  }
  get ctx(): StoreContext {
    return this.host.ctx;
  }
  /** Address of the mailbox this folder belongs to (log fields). */
  get user(): string {
    return this.host.address;
  }

  // -------------------------------------------------------------------------
  // Opening

  /** Load the index, take over if our epoch is newer, and reconcile with the files. */
  static async load(host: FolderHost, name: string, dir: string): Promise<FolderImpl> {
    const ctx = host.ctx;
    for (const sub of ['cur', 'new', 'tmp', META_DIR]) {
      await fs.promises.mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
    }
    // Leftovers in tmp/ are writes that were never acknowledged (we are the only writer).
    for (const e of await readdirOrEmpty(path.join(dir, 'tmp'))) {
      await fs.promises.rm(path.join(dir, 'tmp', e), { force: true, recursive: true });
    }
    // Dovecot's files as we write them (temp name, then rename): leftovers of a crash.
    for (const e of await readdirOrEmpty(dir)) {
      if (/^\.dovecot-(uidlist|keywords)\..*\.tmp$/.test(e)) await fs.promises.rm(path.join(dir, e), { force: true });
    }
    const metaDir = path.join(dir, META_DIR);
    // Half-written snapshots and summary caches of a crashed process (never renamed into place).
    for (const e of await readdirOrEmpty(metaDir)) {
      if (/^\.snapshot\..*\.tmp$/.test(e) || SUMMARY_TMP_RE.test(e) || SCAN_TMP_RE.test(e) || CACHE_TMP_RE.test(e) || FIELDS_TMP_RE.test(e)) await fs.promises.rm(path.join(metaDir, e), { force: true });
    }
    const epoch = host.owner.epoch;
    const loaded = await loadIndex(metaDir, epoch, (uidValidity) => legacyEmailIds(host.address, uidValidity));
    let state = loaded.state;
    const keywords = await readKeywordLetters(dir);
    let gen: number;
    let snapshotGen = loaded.snapshotGen;
    if (loaded.snapshotEpoch === epoch && !loaded.torn) {
      // Continue the newest log, or start the one the snapshot names (a
      // compaction may have ended before its first record).
      gen = Math.max(loaded.lastGen, loaded.snapshotGen);
    } else {
      // Takeover (or first open, or a torn log): snapshot what we read under
      // our epoch before writing anything, and read only our own files from now on.
      if (loaded.snapshotEpoch < 0) {
        // First open. A folder Dovecot kept is adopted with its UIDs; a new
        // one starts with nothing claimed as \Recent (RFC 3501 §2.3.2).
        const adopted = await adoptFromDovecot(ctx, dir, keywords, adoptedFirstModseq());
        if (adopted) {
          state = adopted;
          host.ctx.logger?.info({ folder: name, user: host.address, messages: adopted.messages.length, uidValidity: adopted.uidValidity }, 'adopted a Dovecot folder');
        } else {
          state.uidValidity = newUidValidity();
          state.recentUid = 0;
        }
      }
      await host.owner.checkBeforeWrite();
      let maxGen = -1;
      for (const e of await readdirOrEmpty(metaDir)) {
        const m = /^index\.(\d+)\.(\d+)\.log$/.exec(e);
        if (m && Number(m[1]) === epoch) maxGen = Math.max(maxGen, Number(m[2]));
      }
      gen = Math.max(maxGen, loaded.snapshotEpoch === epoch ? loaded.lastGen : -1) + 1;
      await writeSnapshot(ctx, metaDir, epoch, gen, state);
      snapshotGen = gen;
      await host.owner.checkBeforeWrite();
      await removeSuperseded(metaDir, epoch, gen);
    }
    if (loaded.cache !== undefined) ctx.stats[loaded.cache === 'hit' ? 'indexCacheHits' : 'indexCacheMisses']++;
    const folder = new FolderImpl(host, name, dir, state, gen, snapshotGen, keywords);
    folder.cacheCurrent = loaded.cache === 'hit' && loaded.snapshotEpoch === epoch && !loaded.torn;
    await folder.syncDovecotAtLoad();
    // The reconcile walks every name in cur/: skipped when the folder was
    // closed cleanly in exactly this state and neither directory changed since (./scan-hint.ts).
    const clean = loaded.snapshotEpoch === epoch && !loaded.torn && (await scanHintHolds(dir, metaDir, folder.scanState()));
    if (clean) ctx.stats.rescansSkipped++;
    else await folder.refresh();
    return folder;
  }

  // -------------------------------------------------------------------------
  // Dovecot's files (./dovecot.ts)

  /** A message's file name: base, then the system flags' and keywords' letters. */
  private fileName(m: { base: string; flags: readonly string[] }): string {
    return m.base + maildirInfo(m.flags, this.keywords);
  }

  /**
   * Gives new keywords among `flags` their letters and writes
   * dovecot-keywords (atomically) before any file name uses them: Dovecot
   * reads a letter it has no name for as a keyword "unknown-N".
   */
  private async letters(flags: Iterable<string>): Promise<void> {
    if (this.keywords.assign(flags)) await writeKeywordLetters(this.ctx, this.dir, this.keywords);
  }

  /** dovecot-uidlist at load: repaired from the durable index if a crash left it behind. Best effort. */
  private async syncDovecotAtLoad(): Promise<void> {
    try {
      await this.host.owner.checkBeforeWrite();
      await this.uidlist.atLoad(this.state);
    } catch (e) {
      if (isStoreError(e, 'STALE_EPOCH')) throw e;
      this.ctx.logger?.warn({ err: e, folder: this._name, user: this.host.address }, 'dovecot-uidlist not updated');
    }
  }

  // -------------------------------------------------------------------------
  // Reading

  messages(): readonly MessageMeta[] {
    return this.state.messages;
  }

  counts(): FolderCounts {
    const c = countsOf(this.state);
    return { messages: this.state.messages.length, unseen: c.unseen, deleted: c.deleted, bytes: c.bytes };
  }

  flagColumn(): FolderFlagColumn {
    const c = flagColumnOf(this.state);
    return { uids: c.uids, bits: c.bits };
  }

  get(uid: number): MessageMeta | undefined {
    const i = bsearch(this.state.messages, uid);
    return i < 0 ? undefined : this.state.messages[i];
  }

  private msg(uid: number): Msg {
    const i = bsearch(this.state.messages, uid);
    if (i < 0) throw new StoreError('NONEXISTENT', `no message with UID ${uid}`);
    return this.state.messages[i];
  }

  /** Path of a message file; falls back to a directory scan if the info suffix lags behind the index. */
  private async locate(m: Msg): Promise<string> {
    const expected = path.join(this.dir, 'cur', this.fileName(m));
    try {
      await fs.promises.access(expected);
      return expected;
    } catch {
      for (const sub of ['cur', 'new']) {
        for (const e of await readdirOrEmpty(path.join(this.dir, sub))) {
          if (baseOfFileName(e) === m.base) return path.join(this.dir, sub, e);
        }
      }
      throw new StoreError('NONEXISTENT', `message file of UID ${m.uid} is gone`);
    }
  }

  read(uid: number): Promise<Buffer> {
    return this.readMany([uid])[0]!;
  }

  /**
   * The raw messages of many UIDs, one promise each (in the order given),
   * read in one request to the store's file reader (./file-reader.ts), so
   * its threads get many files per round trip. A UID that is unknown or
   * expunged rejects its own promise (NONEXISTENT), as read() does.
   */
  readMany(uids: readonly number[]): Promise<Buffer>[] {
    const out: Array<Promise<Buffer> | undefined> = [];
    const found: Array<{ at: number; m: Msg }> = [];
    for (const uid of uids) {
      try {
        this.assertAlive();
        found.push({ at: out.length, m: this.msg(uid) });
        out.push(undefined); // the read's promise, below
      } catch (e) {
        out.push(Promise.reject(e));
      }
    }
    // The name the index expects is right nearly always: read it straight
    // away (no access() first: one syscall less per message of a FETCH),
    // and look the file up only if it is not there.
    const first = this.ctx.files.readMany(found.map(({ m }) => ({ path: path.join(this.dir, 'cur', this.fileName(m)), size: m.size })));
    found.forEach(({ at, m }, i) => {
      out[at] = this.finishRead(m, first[i]!);
    });
    return out as Promise<Buffer>[];
  }

  private async finishRead(m: Msg, first: Promise<Buffer>): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      try {
        const buf = attempt === 0 ? await first : await this.ctx.files.read(await this.locate(m), m.size);
        this.ctx.stats.messageReads++;
        // Stored with bare LF by Dovecot (its RFC822.SIZE, W=, counts CRLF): serve it as Dovecot does.
        if (buf.length !== m.size) {
          const crlf = toCrlf(buf);
          if (crlf.length === m.size) return crlf;
        }
        return buf;
      } catch (e) {
        // Not under the expected name (info letters lag behind the index), or
        // renamed under us (flags changed) between locate and read: look again.
        // locate()'s NONEXISTENT (no file by that base at all) is not ENOENT: it ends the loop.
        if (!isErrno(e, 'ENOENT') || attempt >= 3) throw e;
      }
    }
  }

  async getSummary(uid: number): Promise<unknown> {
    this.assertAlive();
    const analyze = this.ctx.analyze;
    const m = this.msg(uid);
    if (!analyze) return undefined;
    const hit = await this.summaries.get(m.base);
    if (hit.found) return hit.value;
    const raw = await this.read(uid);
    const value = await this.runAnalyzer(raw);
    if (value !== undefined) await this.summaries.put(m.base, value).catch(() => undefined);
    return value;
  }

  async getSummaries(uids: readonly number[]): Promise<Map<number, unknown>> {
    this.assertAlive();
    const out = new Map<number, unknown>();
    if (!this.ctx.analyze) return out;
    const byBase = new Map<string, number>();
    for (const uid of uids) {
      const i = bsearch(this.state.messages, uid);
      if (i >= 0) byBase.set(this.state.messages[i]!.base, uid);
    }
    const cached = await this.summaries.getMany([...byBase.keys()]);
    for (const [base, uid] of byBase) {
      if (cached.has(base)) out.set(uid, cached.get(base));
      else {
        try {
          out.set(uid, await this.getSummary(uid));
        } catch (e) {
          if (!(e instanceof StoreError && e.code === 'NONEXISTENT')) throw e; // expunged meanwhile
        }
      }
    }
    return out;
  }

  async searchFields(uids: readonly number[]): Promise<Map<number, readonly string[]>> {
    this.assertAlive();
    const out = new Map<number, readonly string[]>();
    const fields = this.fields;
    if (!fields) return out;
    const records = await fields.load();
    const missing: number[] = [];
    const msgs = this.state.messages;
    let i = -1;
    for (const uid of uids) {
      // UIDs usually come ascending (a search window): step forward, else look up.
      if (i >= 0 && i + 1 < msgs.length && msgs[i + 1]!.uid === uid) i++;
      else i = bsearch(msgs, uid);
      if (i < 0) continue;
      const m = msgs[i]!;
      // By message object first: a lookup by Maildir base (a long string) costs ~1 µs, 100,000 of them per search.
      let rec = this.recordOf.get(m);
      if (!rec) {
        rec = records.get(m.base);
        if (rec) this.recordOf.set(m, rec);
      }
      if (rec) out.set(uid, rec);
      else missing.push(uid);
    }
    if (missing.length === 0) return out;
    const summaries = await this.getSummaries(missing);
    for (const [uid, summary] of summaries) {
      const i = bsearch(this.state.messages, uid);
      if (i < 0) continue;
      const rec = fields.note(this.state.messages[i]!.base, summary);
      if (rec) out.set(uid, rec);
    }
    return out;
  }

  /** The analyzer may be sync or async (mailparser is async); failures only cost the cache entry. */
  private async runAnalyzer(raw: Buffer): Promise<unknown> {
    const analyze = this.ctx.analyze;
    if (!analyze) return undefined;
    this.ctx.stats.analyzerCalls++;
    try {
      return await analyze(raw);
    } catch (e) {
      this.ctx.logger?.warn({ err: e, folder: this._name, user: this.host.address }, 'message analyzer failed');
      return undefined;
    }
  }

  // -------------------------------------------------------------------------
  // Writing

  async append(raw: Buffer, opts: DeliveryAppendOptions = {}): Promise<AppendResult> {
    const { deliveryId, ...rest } = opts;
    if (deliveryId === undefined) {
      const res = await this.appendMany([{ raw, opts: rest }]);
      return { uid: res.uids[0], uidValidity: res.uidValidity };
    }
    if (typeof deliveryId !== 'string' || !DELIVERY_ID_RE.test(deliveryId)) throw new StoreError('CANNOT', 'invalid delivery id (8 to 40 lowercase letters and digits)');
    if (rest.internalDate !== undefined) throw new StoreError('CANNOT', 'a delivery is dated when it is accepted: no internal date with a delivery id');
    // At most one bounded wait per earlier attempt of the same id in flight in this process.
    for (let round = 0; ; round++) {
      this.assertAlive();
      // A fenced folder says nothing, a repeat included: the newer owner answers for the mailbox now.
      if (this.host.owner.fenced) throw this.host.owner.staleError();
      const known = this.state.deliveries.get(deliveryId);
      if (known) return { uid: known.uid, uidValidity: this.state.uidValidity, duplicate: true };
      const inFlight = this.deliveriesInFlight.get(deliveryId);
      if (!inFlight) break;
      // Two attempts of one delivery at once (a retry while the first still writes): the second waits for the
      // first's verdict; if the first failed, it tries itself.
      // Only attempts that failed bring us here again; after a few, give up for now (a temporary failure, the sender retries).
      if (round >= 8) throw new StoreError('CANNOT', `delivery ${deliveryId} keeps failing in concurrent attempts`);
      await inFlight;
    }
    const attempt = this.appendMany([{ raw, opts: rest }], deliveryId);
    const settled = attempt.then(
      () => undefined,
      () => undefined,
    );
    this.deliveriesInFlight.set(deliveryId, settled);
    try {
      const res = await attempt;
      return { uid: res.uids[0], uidValidity: res.uidValidity };
    } finally {
      if (this.deliveriesInFlight.get(deliveryId) === settled) this.deliveriesInFlight.delete(deliveryId);
    }
  }

  /**
   * All of `items` or none (RFC 3502 MULTIAPPEND): quota is reserved for
   * the whole batch, every file is written in tmp/ and all are fsynced in one
   * round (message-writer.ts writeFilesDurable, in a thread), then one group commit moves them all
   * into cur/ and indexes them with consecutive UIDs. The summaries are
   * computed while the fsyncs run (CPU next to I/O wait), and cached before
   * the commit, so a client's first FETCH ENVELOPE finds them. A failure
   * anywhere removes every tmp/ file written so far.
   */
  async appendMany(items: readonly AppendItem[], deliveryId?: string): Promise<{ uids: number[]; uidValidity: number }> {
    this.assertAlive();
    if (items.length === 0) throw new StoreError('CANNOT', 'nothing to append');
    const max = this.ctx.maxMessageBytes;
    const checked = items.map(({ raw, opts = {} }) => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('CANNOT', 'message must be a Buffer');
      if (max !== undefined && raw.length > max) throw new StoreError('TOOBIG', `message of ${raw.length} bytes exceeds ${max}`);
      const internalDate = opts.internalDate ?? new Date();
      if (!(internalDate instanceof Date) || !Number.isFinite(internalDate.getTime())) throw new StoreError('CANNOT', 'invalid internal date');
      return { raw, flags: normalizeFlags(opts.flags ?? []), internalDate };
    });
    if (this.host.owner.fenced) throw this.host.owner.staleError();
    const release = await this.host.reserveQuota(
      checked.reduce((n, it) => n + it.raw.length, 0),
      checked.length,
    );
    // deliveryId: only from append(), which passes one item.
    const prepared: PreparedAppend[] = checked.map((it) => ({
      base: newBaseName(this.ctx.host, it.raw.length, it.raw.length, deliveryId),
      size: it.raw.length,
      flags: it.flags,
      internalDate: it.internalDate,
      ...(deliveryId === undefined ? {} : { deliveryId }),
    }));
    const tmpDir = path.join(this.dir, 'tmp');
    try {
      // Both settle before anything is cleaned up (the analysis never fails: it is a cache).
      const [written] = await Promise.allSettled([
        writeFilesDurable(
          this.ctx,
          prepared.map((p, i) => ({ path: path.join(tmpDir, p.base), data: checked[i].raw, mtime: p.internalDate })),
        ),
        this.cacheSummaries(prepared.map((p, i) => ({ base: p.base, raw: checked[i].raw }))),
      ]);
      if (written.status === 'rejected') throw written.reason;
      const uids = await this.commitAppends(prepared);
      return { uids, uidValidity: this.state.uidValidity };
    } catch (e) {
      // Refused before it was moved into cur/ (fenced, dead folder, a failed write): no orphan in tmp/.
      await Promise.all(prepared.map((p) => fs.promises.rm(path.join(tmpDir, p.base), { force: true })));
      throw e;
    } finally {
      release();
    }
  }

  /**
   * Analyses each new message and caches its summary (a cache: failures only
   * cost a later recomputation). Gives the event loop back between messages
   * so the file writes and fsyncs started before it keep going meanwhile.
   */
  private async cacheSummaries(items: readonly { base: string; raw: Buffer }[]): Promise<void> {
    if (!this.ctx.analyze) return;
    const puts: Promise<void>[] = [];
    for (const it of items) {
      await yieldToLoop();
      const summary = await this.runAnalyzer(it.raw);
      if (summary !== undefined) {
        puts.push(this.summaries.put(it.base, summary).catch(() => undefined));
        this.fields?.note(it.base, summary);
      }
    }
    await Promise.all(puts);
  }

  /** Move prepared tmp/ files into cur/ and index them, in the next group commit. */
  private commitAppends(items: PreparedAppend[]): Promise<number[]> {
    return this.enqueue<number[]>({
      stage: async (b) => {
        const moved: string[] = [];
        try {
          await this.letters(items.flatMap((it) => it.flags));
          // A few renames in flight at once (each is a pool round trip); every one settles before a failure is handled.
          for (let i = 0; i < items.length; i += PARALLEL_RENAMES) {
            const results = await Promise.allSettled(
              items.slice(i, i + PARALLEL_RENAMES).map(async (it) => {
                const dest = path.join(this.dir, 'cur', this.fileName(it));
                await fs.promises.rename(path.join(this.dir, 'tmp', it.base), dest);
                moved.push(dest);
              }),
            );
            const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
            if (failed) throw failed.reason;
          }
        } catch (e) {
          // All or nothing: a half-moved copy must not surface later through reconcile.
          await Promise.all(moved.map((p) => fs.promises.rm(p, { force: true })));
          await Promise.all(items.map((it) => fs.promises.rm(path.join(this.dir, 'tmp', it.base), { force: true })));
          throw e;
        }
        b.syncDirs.add(path.join(this.dir, 'cur'));
        const uids: number[] = [];
        for (const [i, it] of items.entries()) {
          if (i > 0 && i % YIELD_EVERY_ITEMS === 0) await yieldToLoop();
          const uid = b.uidNext++;
          const modseq = ++b.highestModseq;
          const emailId = it.emailId ?? newEmailId();
          b.add({ uid, base: it.base, flags: it.flags, internalDate: it.internalDate, size: it.size, modseq, emailId });
          // The delivery id in the same record, hence the same log fsync, as the message it stands for.
          const k = it.deliveryId === undefined ? {} : { k: it.deliveryId };
          b.records.push({ t: 'a', u: uid, b: it.base, f: it.flags, d: it.internalDate.getTime(), s: it.size, m: modseq, e: emailId, ...k });
          uids.push(uid);
        }
        return uids;
      },
    });
  }

  async store(uids: readonly number[], op: FlagOperation, flags: readonly string[], opts: StoreFlagsOptions = {}): Promise<StoreFlagsResult> {
    this.assertAlive();
    if (op !== 'add' && op !== 'remove' && op !== 'replace') throw new StoreError('CANNOT', `unknown flag operation ${String(op)}`);
    const wanted = normalizeFlags(flags);
    const since = opts.unchangedSince;
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new StoreError('CANNOT', 'invalid UNCHANGEDSINCE');
    const list = uniqueSorted(uids);
    return this.enqueue<StoreFlagsResult>({
      stage: async (b) => {
        if (op !== 'remove') await this.letters(wanted);
        const changed: Msg[] = [];
        const failed: number[] = [];
        let modseq = 0;
        for (let i = 0; i < list.length; i++) {
          if (i > 0 && i % YIELD_EVERY_ITEMS === 0) await yieldToLoop();
          const uid = list[i];
          const m = b.get(uid);
          if (!m) continue;
          // RFC 7162 §3.1.3: a message modified since UNCHANGEDSINCE is not stored and is reported.
          if (since !== undefined && m.modseq > since) {
            failed.push(uid);
            continue;
          }
          const nf = applyFlags(m.flags, op, wanted);
          if (sameFlags(nf, m.flags)) continue;
          if (modseq === 0) modseq = ++b.highestModseq; // one MODSEQ per STORE (RFC 7162 §3.1.1 allows sharing)
          const nm: Msg = { ...m, flags: nf, modseq };
          b.replace(nm);
          b.records.push({ t: 'f', u: uid, f: nf, m: modseq });
          b.flagChanges.push(nm);
          const from = this.fileName(m);
          const to = this.fileName(nm);
          if (from !== to) b.renames.push([from, to]);
          changed.push(nm);
        }
        return { changed, failedUnchangedSince: failed };
      },
    });
  }

  async expunge(uids?: readonly number[], opts: ExpungeOptions = {}): Promise<number[]> {
    this.assertAlive();
    const list = uids === undefined ? undefined : uniqueSorted(uids);
    return this.enqueue<number[]>({
      stage: async (b) => {
        const targets = (list === undefined ? b.messages : list.map((u) => b.get(u)).filter((m): m is Msg => m !== undefined)).filter(
          (m) => opts.force === true || hasFlag(m.flags, '\\Deleted'),
        );
        if (targets.length === 0) return [];
        // Files go first (made durable by this batch's directory fsync): a
        // crash before the index record leaves an indexed file that vanished,
        // which reconcile expunges; the other order would resurrect it.
        let scan: Map<string, string> | null = null;
        for (const m of targets) {
          const p = path.join(this.dir, 'cur', this.fileName(m));
          try {
            await fs.promises.unlink(p);
          } catch (e) {
            if (!isErrno(e, 'ENOENT')) throw e;
            scan ??= await this.scanBases();
            const actual = scan.get(m.base);
            if (actual) await fs.promises.rm(actual, { force: true });
          }
        }
        b.syncDirs.add(path.join(this.dir, 'cur'));
        if (scan) b.syncDirs.add(path.join(this.dir, 'new'));
        const modseq = ++b.highestModseq;
        const set = new Set(targets.map((m) => m.uid));
        b.remove(set);
        const gone = targets.map((m) => m.uid);
        b.records.push({ t: 'x', u: gone, m: modseq });
        return gone;
      },
    });
  }

  private async scanBases(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const sub of ['new', 'cur']) {
      for (const e of await readdirOrEmpty(path.join(this.dir, sub))) {
        if (!e.startsWith('.')) out.set(baseOfFileName(e), path.join(this.dir, sub, e));
      }
    }
    return out;
  }

  async copy(uids: readonly number[], target: FolderImpl): Promise<CopyResult> {
    return this.copyInternal(uids, target, false);
  }

  async move(uids: readonly number[], target: FolderImpl): Promise<CopyResult> {
    const res = await this.copyInternal(uids, target, true);
    // RFC 6851 §3.3: the sources are expunged whatever their flags.
    await this.expunge(
      res.pairs.map(([s]) => s),
      { force: true },
    );
    return res;
  }

  private async copyInternal(uids: readonly number[], target: FolderImpl, moving: boolean): Promise<CopyResult> {
    this.assertAlive();
    target.assertAlive();
    const sources = uniqueSorted(uids)
      .map((u) => this.get(u) as Msg | undefined)
      .filter((m): m is Msg => m !== undefined);
    if (sources.length === 0) return { uidValidity: target.uidValidity, pairs: [] };
    const bytes = sources.reduce((n, m) => n + m.size, 0);
    // A move inside one user's mailbox does not change its usage.
    const release = moving && target.host === this.host ? () => undefined : await target.host.reserveQuota(bytes, sources.length);
    const prepared: PreparedAppend[] = [];
    try {
      for (const m of sources) {
        // A hard link shares the bytes: a message Dovecot stored with bare LF keeps its S= and W=.
        const base = newBaseName(this.ctx.host, m.size, sizesFromName(m.base).physical ?? m.size);
        const tmpPath = path.join(target.dir, 'tmp', base);
        await this.cloneInto(m, tmpPath);
        prepared.push({ base, size: m.size, flags: [...m.flags], internalDate: m.internalDate, emailId: m.emailId });
        const hit = this.ctx.analyze ? await this.summaries.get(m.base) : { found: false as const };
        if (hit.found) {
          await target.summaries.put(base, hit.value).catch(() => undefined);
          target.fields?.note(base, hit.value);
        }
      }
      const targetUids = await target.commitAppends(prepared);
      return { uidValidity: target.uidValidity, pairs: sources.map((m, i) => [m.uid, targetUids[i]]) };
    } catch (e) {
      for (const p of prepared) await fs.promises.rm(path.join(target.dir, 'tmp', p.base), { force: true });
      throw e;
    } finally {
      release();
    }
  }

  /** Hard link (Dovecot does the same; data is already durable), else a durable copy. */
  private async cloneInto(m: Msg, tmpPath: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const src = await this.locate(m);
      try {
        await fs.promises.link(src, tmpPath);
        return;
      } catch (e) {
        if (isErrno(e, 'ENOENT') && attempt < 2) continue;
        if (!isErrno(e, 'EXDEV') && !isErrno(e, 'EPERM') && !isErrno(e, 'EMLINK')) throw e;
      }
      await fs.promises.copyFile(src, tmpPath, fs.constants.COPYFILE_EXCL);
      const fh = await fs.promises.open(tmpPath, 'r+');
      try {
        await fh.utimes(m.internalDate, m.internalDate);
        await fh.sync();
        this.ctx.stats.fileFsyncs++;
      } finally {
        await fh.close();
      }
      return;
    }
  }

  /**
   * Reconcile the index with the Maildir files: files in new/ move to cur/;
   * files unknown to the index get UIDs (ordered by mtime, then name);
   * indexed files that vanished are expunged. Existing UIDs never change.
   */
  async refresh(): Promise<void> {
    this.assertAlive();
    await this.enqueue<void>({
      stage: async (b) => {
        const curDir = path.join(this.dir, 'cur');
        const newDir = path.join(this.dir, 'new');
        for (const e of await readdirOrEmpty(newDir)) {
          if (e.startsWith('.')) continue;
          const to = e.includes(':2,') ? e : baseOfFileName(e) + ':2,';
          try {
            await fs.promises.rename(path.join(newDir, e), path.join(curDir, to));
            b.syncDirs.add(curDir).add(newDir);
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err;
          }
        }
        const byBase = new Map<string, string>();
        let n = 0;
        // Opening a 100,000-message folder walks as many names: let other sessions run now and then.
        // (Inline, not an awaited helper: an await per name cost more than the walk itself.)
        for (const e of await readdirOrEmpty(curDir)) {
          if (!e.startsWith('.')) byBase.set(baseOfFileName(e), e);
          if (++n % YIELD_EVERY_ITEMS === 0) await yieldToLoop();
        }
        // Every keyword in use gets its letter (and dovecot-keywords) before names are compared.
        const inUse = new Set<string>();
        for (const m of b.messages) for (const f of m.flags) if (!f.startsWith('\\')) inUse.add(f);
        await this.letters(inUse);
        const known = new Set<string>();
        const vanished = new Set<number>();
        for (const m of b.messages) {
          if (++n % YIELD_EVERY_ITEMS === 0) await yieldToLoop();
          const actual = byBase.get(m.base);
          if (actual === undefined) vanished.add(m.uid);
          else {
            known.add(m.base);
            const expected = this.fileName(m);
            if (actual !== expected) b.renames.push([actual, expected]);
          }
        }
        const found: { name: string; base: string; size: number; mtime: number }[] = [];
        const unknown = [...byBase].filter(([base]) => !known.has(base));
        // stat (never read) unknown files, a bounded number at a time
        for (let i = 0; i < unknown.length; i += 64) {
          await Promise.all(
            unknown.slice(i, i + 64).map(async ([base, name]) => {
              let st: fs.Stats;
              try {
                st = await fs.promises.lstat(path.join(curDir, name));
              } catch (err) {
                if (isErrno(err, 'ENOENT')) return;
                throw err;
              }
              if (st.isFile()) found.push({ name, base, size: await virtualSizeOf(path.join(curDir, name), name, st.size, true), mtime: st.mtimeMs });
            }),
          );
        }
        found.sort((x, y) => x.mtime - y.mtime || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
        if (vanished.size > 0) {
          const modseq = ++b.highestModseq;
          b.remove(vanished);
          b.records.push({ t: 'x', u: [...vanished].sort((x, y) => x - y), m: modseq });
        }
        for (const f of found) {
          const uid = b.uidNext++;
          const modseq = ++b.highestModseq;
          const flags = flagsFromFileName(f.name, this.keywords);
          const internalDate = new Date(Math.floor(f.mtime));
          const emailId = newEmailId();
          // A delivered file whose log record a crash lost: its name still says which delivery it was.
          const deliveryId = deliveryIdOfBase(f.base);
          b.add({ uid, base: f.base, flags, internalDate, size: f.size, modseq, emailId });
          b.records.push({ t: 'a', u: uid, b: f.base, f: flags, d: internalDate.getTime(), s: f.size, m: modseq, e: emailId, ...(deliveryId === undefined ? {} : { k: deliveryId }) });
          const expected = this.fileName({ base: f.base, flags });
          if (expected !== f.name) b.renames.push([f.name, expected]);
        }
      },
    });
  }

  /**
   * RFC 3501 §2.3.2: sessions have been told about UIDs up to `uid` as
   * `\Recent`; persisted so a restart (or the next owner) does not announce
   * them again. Shares the next group commit; no MODSEQ (no message changed).
   */
  async claimRecent(uid: number): Promise<void> {
    this.assertAlive();
    if (!Number.isSafeInteger(uid) || uid < 0 || uid > 0xffff_ffff) throw new StoreError('CANNOT', `invalid UID ${String(uid)}`);
    if (this.state.recentUid !== undefined && uid <= this.state.recentUid) return;
    await this.enqueue<void>({
      stage: async (b) => {
        if (b.recentUid !== undefined && uid <= b.recentUid) return;
        b.recentUid = uid;
        b.records.push({ t: 'r', u: uid });
      },
    });
  }

  // -------------------------------------------------------------------------
  // Group commit

  private enqueue<T>(op: Omit<Op, 'resolve' | 'reject'>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ ...op, resolve: resolve as (v: unknown) => void, reject });
      void this.flushLoop();
    });
  }

  /** Run fn alone in the folder's queue (no batch neighbours). */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.enqueue<T>({ exclusive: true, stage: () => fn() });
  }

  private async flushLoop(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        // Everything queued while the previous batch was flushing shares this
        // batch's fsyncs; exclusive operations run on their own.
        let batch: Op[];
        if (this.queue[0].exclusive) batch = [this.queue.shift() as Op];
        else {
          const i = this.queue.findIndex((o) => o.exclusive);
          batch = this.queue.splice(0, i < 0 ? this.queue.length : i);
        }
        if (batch[0].exclusive) await this.runAlone(batch[0]);
        else await this.runBatch(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async runAlone(op: Op): Promise<void> {
    try {
      op.resolve(await op.stage(new Batch(this.state)));
    } catch (e) {
      op.reject(e);
    }
  }

  private async runBatch(ops: Op[]): Promise<void> {
    if (this.dead) {
      for (const op of ops) op.reject(this.dead);
      return;
    }
    try {
      await this.host.owner.checkBeforeWrite();
    } catch (e) {
      const err = this.ownershipFailure(e, 'epoch check before write');
      for (const op of ops) op.reject(err);
      return;
    }
    const b = new Batch(this.state);
    const staged: { op: Op; value: unknown }[] = [];
    for (const op of ops) {
      try {
        staged.push({ op, value: await op.stage(b) });
      } catch (e) {
        op.reject(e);
      }
    }
    if (staged.length === 0) return;
    try {
      const dirs = (): Promise<unknown> => Promise.all([...b.syncDirs].map((d) => fsyncDir(this.ctx, d)));
      const records = async (): Promise<void> => {
        if (b.records.length === 0) return;
        this.cacheCurrent = false;
        this.log ??= await IndexLog.open(this.ctx, logPath(this.metaDir, this.host.owner.epoch, this.gen));
        await this.log.append(b.records);
      };
      if (b.removed.length > 0) {
        // Unlinks must be durable before the log says expunged: the other
        // order could resurrect a message through reconcile after a crash.
        await dirs();
        await records();
      } else {
        // Nothing removed: the directory and the log fsyncs overlap. A crash
        // that keeps the records but loses a rename in cur/ leaves an indexed
        // file that is missing, which reconcile expunges — a message never
        // acknowledged, so it is absent either way.
        const [d, r] = await Promise.allSettled([dirs(), records()]);
        if (d.status === 'rejected') throw d.reason;
        if (r.status === 'rejected') throw r.reason;
      }
      this.ctx.stats.commits++;
      this.ctx.stats.operations += staged.length;
    } catch (e) {
      // The disk may hold part of this batch: nothing in memory can be
      // trusted; the next open reloads from disk. An I/O error, not fencing.
      const err = ioError(this.ctx, e, 'index write', { folder: this._name, user: this.host.address });
      this.kill(err, 'io-error');
      for (const s of staged) s.op.reject(err);
      return;
    }
    try {
      await this.host.owner.checkAfterWrite();
    } catch (e) {
      const err = this.ownershipFailure(e, 'epoch check after write');
      for (const s of staged) s.op.reject(err);
      return;
    }
    // Durable and still ours: publish, announce, acknowledge.
    this.state = b.toState();
    for (const r of b.records) {
      if (r.t === 'x') this.state.expunges.record(r.u, r.m);
      else if (r.t === 'a' && r.k !== undefined) this.state.deliveries.record(r.k, r.d, r.u);
    }
    if (b.bytes !== 0 || b.count !== 0) this.host.usageDelta(b.bytes, b.count);
    if (b.expunged.length > 0) this.emit('expunge', b.expunged.sort((x, y) => x - y));
    if (b.existsUids.length > 0) this.emit('exists', b.existsUids);
    for (const m of b.flagChanges) this.emit('flags', { uid: m.uid, flags: m.flags, modseq: m.modseq });
    for (const s of staged) s.op.resolve(s.value);
    // Maildir info letters follow the index; the index is the truth, so a failed rename is harmless.
    for (const [from, to] of b.renames) {
      await fs.promises.rename(path.join(this.dir, 'cur', from), path.join(this.dir, 'cur', to)).catch(() => undefined);
    }
    await this.afterCommit(b);
    if (this.log && this.log.records >= Math.max(COMPACT_MIN_RECORDS, this.state.messages.length)) await this.compact();
  }

  /** Derived files follow a durable, acknowledged batch: Dovecot's uidlist, the summary cache. Best effort. */
  private async afterCommit(b: Batch): Promise<void> {
    if (b.existsUids.length === 0 && b.removed.length === 0) return;
    const added = b.existsUids.map((u) => this.get(u) as Msg | undefined).filter((m): m is Msg => m !== undefined);
    try {
      await this.uidlist.afterCommit(this.state, added, b.removed);
    } catch (e) {
      this.ctx.logger?.warn({ err: e, folder: this._name, user: this.host.address }, 'dovecot-uidlist not updated');
    }
    if (b.removed.length > 0) {
      const gone = b.removed.map((m) => m.base);
      this.summaries.forget(gone);
      this.fields?.forget(gone);
    }
  }

  /** Fold the log into a new snapshot and start the next generation. */
  private async compact(): Promise<void> {
    try {
      await this.host.owner.checkBeforeWrite();
    } catch {
      return; // a newer owner: leave its files alone
    }
    const gen = this.gen + 1;
    this.cacheCurrent = false;
    try {
      await writeSnapshot(this.ctx, this.metaDir, this.host.owner.epoch, gen, this.state);
    } catch (e) {
      // We cannot tell whether the snapshot (which names gen+1) landed; reload to be sure.
      this.kill(ioError(this.ctx, e, 'index snapshot', { folder: this._name, user: this.host.address }), 'io-error');
      return;
    }
    await this.log?.close();
    this.log = null;
    this.gen = gen;
    this.snapshotGen = gen;
    try {
      await this.host.owner.checkBeforeWrite();
      await removeSuperseded(this.metaDir, this.host.owner.epoch, gen);
    } catch {
      // superseded files stay; harmless
    }
  }

  /**
   * The ownership check failed: a higher epoch exists (fenced), or the check
   * itself could not read the markers (an I/O error). Either way the folder dies.
   */
  private ownershipFailure(e: unknown, what: string): StoreError {
    if (isStoreError(e, 'STALE_EPOCH')) {
      this.kill(e, 'fenced');
      return e;
    }
    const err = isStoreError(e) ? e : ioError(this.ctx, e, what, { folder: this._name, user: this.host.address });
    this.kill(err, 'io-error');
    return err;
  }

  private kill(err: StoreError, reason: FolderGoneReason): void {
    if (this.dead) return;
    this.dead = err;
    this.ctx.logger?.warn({ folder: this._name, user: this.host.address, reason, err }, 'folder closed');
    this.host.forgetFolder(this);
    const log = this.log;
    this.log = null;
    void log?.close();
    void this.summaries.close();
    void this.uidlist.close();
    this.emit('gone', reason);
  }

  assertAlive(): void {
    if (this.dead) throw this.dead;
  }

  // -------------------------------------------------------------------------
  // Lifecycle (driven by the user registry)

  /** Called under runExclusive by the user when the folder was renamed. */
  relocate(name: string, dir: string): void {
    this._name = name;
    this.dir = dir;
    this.summaries.relocate(this.metaDir);
    this.fields?.relocate(this.metaDir);
    this.uidlist.relocate(dir);
    void this.log?.close();
    this.log = null; // reopened lazily at the new path
  }

  /** Called under runExclusive by the user when the folder was deleted. */
  markDeleted(): void {
    this.kill(new StoreError('NONEXISTENT', `folder ${this._name} was deleted`), 'deleted');
  }

  /** Ownership moved to a newer epoch in this process. */
  markFenced(): void {
    this.kill(this.host.owner.staleError(), 'fenced');
  }

  /** Wait for pending work, fold a long log, release handles. */
  async shutdown(): Promise<void> {
    await this.runExclusive(async () => {
      if (this.dead === null && this.log && this.log.records >= COMPACT_MIN_RECORDS) await this.compact();
      // Nothing is queued behind this: record the state for the next open's rescan check. A hint, best effort.
      if (this.dead === null) await writeScanHint(this.dir, this.metaDir, this.scanState()).catch(() => undefined);
      // The index as one binary file for the next process's first open (./index-cache.ts). Derived data, best effort.
      if (this.dead === null && !this.cacheCurrent) {
        await writeCache(this.metaDir, this.state, this.host.owner.epoch, this.snapshotGen).then(
          () => {
            this.cacheCurrent = true;
          },
          () => undefined,
        );
      }
      // Search-fields records made while open (./fields-cache.ts). Derived data, best effort.
      if (this.dead === null && this.fields) await this.fields.write(new Set(this.state.messages.map((m) => m.base))).catch(() => undefined);
    }).catch(() => undefined);
    await this.log?.close();
    this.log = null;
    await this.summaries.close();
    await this.uidlist.close();
    this.dead ??= new StoreError('CANNOT', `folder ${this._name} is closed`);
  }
}

function uniqueSorted(uids: readonly number[]): number[] {
  if (!Array.isArray(uids)) throw new StoreError('CANNOT', 'uids must be an array');
  const set = new Set<number>();
  for (const u of uids) {
    if (!Number.isSafeInteger(u) || u <= 0) throw new StoreError('CANNOT', `invalid UID ${String(u)}`);
    set.add(u);
  }
  return [...set].sort((a, b) => a - b);
}
