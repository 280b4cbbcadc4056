import { LIMITS } from '../../common/limits';
import { FLAG_KEYWORD, FLAG_ODD, isStoreError, type Folder, type MessageMeta } from '../../store';
import { analyzeMessage, isCurrentSummary, type MessageSummary, type SortFields } from '../message';
import { atom, data, list, normalizeRanges, num, nums, type ResponseValue } from '../protocol';
import { anySearchKey, flagKeysAreSystem, SEARCH_CHARSETS, SearchEvaluator, SearchWorkExceeded, parseSearch, searchNeedsBody, searchUsesRecords, searchWindow, type SearchKey, type SearchMessage, type SearchQuery } from '../search';
import { fail, ok, overLimit } from './args';
import { keepUpdated, noUpdateCode } from './context-update';
import { esearchResponse, returnsSave, uidsToSave, type SearchHits } from './esearch';
import { emailIds, subjectRoots, threadIds } from './objectid';
import { BodyReadAhead } from './read-ahead';
import { SELECTED, badResult, defineCommand, noResult, okResult, type CommandResult, type CommandSpec, type SessionContext } from './types';
import type { MailboxView } from './view';
import { CommandWork } from './work';

type SearchArgs =
  | { kind: 'bad-charset'; save: boolean }
  /** A failed SEARCH RETURN (SAVE): the handler empties `$` first (RFC 5182 §2.1), then answers BAD or NO [LIMIT]. */
  | { kind: 'failed-save'; error: string; limit: boolean }
  | { kind: 'query'; query: SearchQuery };

const isThreadIdKey = (k: SearchKey): boolean => k.op === 'objectid' && k.kind === 'THREADID';
/** Does the key search by THREADID? */
const hasThreadId = (key: SearchKey): boolean => anySearchKey(key, isThreadIdKey);

/** Does the key look at anything besides index metadata (flags, dates, sizes, numbers)? THREADID reads the summary's References (objectid.ts). */
const SUMMARY_OPS: ReadonlySet<SearchKey['op']> = new Set(['header', 'address', 'sentdate', 'body', 'text']);
const needsSummary = (key: SearchKey): boolean => anySearchKey(key, (k) => SUMMARY_OPS.has(k.op) || isThreadIdKey(k));
/** Keys besides BODY/TEXT that need the summary (HEADER, FROM…, SENTDATE, THREADID): without them the body alone decides. */
const HEADER_OPS: ReadonlySet<SearchKey['op']> = new Set(['header', 'address', 'sentdate']);
const needsSummaryBesidesBody = (key: SearchKey): boolean => anySearchKey(key, (k) => HEADER_OPS.has(k.op) || isThreadIdKey(k));

const usesModseq = (key: SearchKey): boolean => anySearchKey(key, (k) => k.op === 'modseq');

/** Does the answer depend on the flags alone (SEARCH UNSEEN, FLAGGED, NOT DELETED, KEYWORD x …)? */
const flagsOnly = (key: SearchKey): boolean => !anySearchKey(key, (k) => k.op !== 'flag' && k.op !== 'all');

/**
 * A key that is one UID or sequence range (`UID SEARCH 90001:*`): every
 * message of its search window matches (the window is exactly that range,
 * window.ts), so nothing needs to be evaluated per message.
 */
function isOneRange(key: SearchKey, uids: readonly number[]): boolean {
  if ((key.op !== 'uid' && key.op !== 'seq') || key.set.kind !== 'set' || uids.length === 0) return false;
  return normalizeRanges(key.set, key.op === 'seq' ? uids.length : uids[uids.length - 1]!).length === 1;
}

/** Distinct flag lists remembered by the flags-only path; a folder has a handful, past this it stops remembering. */
const FLAG_MEMO_MAX = 1024;

/** The memo key of a flag list: the flag itself for 0 or 1 flags (no new string), else the flags joined. */
function flagListKey(flags: readonly string[]): string {
  return flags.length === 0 ? '' : flags.length === 1 ? flags[0]! : flags.join('\u0000');
}

/** Messages per SEARCH batch: bounds memory while letting summary reads coalesce. */
const SEARCH_BATCH = 512;
/** Messages per batch of search-fields records (a record is a few short strings already in memory). */
const RECORD_BATCH = 8192;

/** Cached summaries (few reads); a message without a usable one (none, or from an older analyzer) is analyzed from its file. */
async function loadSummaries(folder: Folder, uids: readonly number[]): Promise<Map<number, MessageSummary>> {
  const out = new Map<number, MessageSummary>();
  if (uids.length === 0) return out;
  const cached = await folder.getSummaries(uids);
  for (const uid of uids) {
    const c = cached.get(uid);
    if (isCurrentSummary(c)) {
      out.set(uid, c);
      continue;
    }
    if (!cached.has(uid) && !folder.get(uid)) continue; // expunged meanwhile
    try {
      out.set(uid, analyzeMessage(await folder.read(uid)));
    } catch (err) {
      if (!isStoreError(err, 'NONEXISTENT')) throw err;
    }
  }
  return out;
}

/** What the messages of one SEARCH batch read their summary and body from. */
interface BatchSource {
  readonly folder: Folder;
  readonly summaries: ReadonlyMap<number, MessageSummary | null>;
  bodies: BodyReadAhead | undefined;
}

/**
 * One message as the evaluator sees it. A class, not an object literal with
 * two closures: SEARCH makes one per message (100,000 for SEARCH UNSEEN on
 * a large folder), and closures cost more per message than the flag test
 * itself (each is a new function object, named at run time under tsx).
 * MODSEQ becomes a bigint only when a MODSEQ key asks.
 */
class IndexedMessage implements SearchMessage {
  readonly uid: number;
  readonly flags: readonly string[];
  readonly internalDate: Date;
  readonly size: number;
  constructor(
    readonly seq: number,
    private readonly meta: MessageMeta,
    readonly recent: boolean,
    private readonly source: BatchSource,
  ) {
    this.uid = meta.uid;
    this.flags = meta.flags;
    this.internalDate = meta.internalDate;
    this.size = meta.size;
  }
  get modseq(): bigint {
    return BigInt(this.meta.modseq);
  }
  summary(): MessageSummary | null {
    return this.source.summaries.get(this.uid) ?? null;
  }
  raw(): Promise<Buffer> {
    const { bodies, folder } = this.source;
    return bodies ? bodies.read(this.uid) : folder.read(this.uid);
  }
}

/**
 * The message the metadata-only path hands the evaluator, refilled for each
 * message (decideOnMetadata keeps no reference to it). Header and body keys
 * never reach this path, so it has neither summary nor body.
 */
class MetadataMessage implements SearchMessage {
  /** The search-fields record, on the records path (else null). */
  record: readonly string[] | null = null;
  seq = 0;
  uid = 0;
  flags: readonly string[] = [];
  internalDate = new Date(0);
  size = 0;
  recent = false;
  private meta: MessageMeta | undefined;
  set(seq: number, meta: MessageMeta, recent: boolean): void {
    this.seq = seq;
    this.uid = meta.uid;
    this.flags = meta.flags;
    this.internalDate = meta.internalDate;
    this.size = meta.size;
    this.recent = recent;
    this.meta = meta;
  }
  get modseq(): bigint {
    return BigInt(this.meta?.modseq ?? 0);
  }
  summary(): MessageSummary | null {
    return null;
  }
  fields(): readonly string[] | null {
    return this.record;
  }
  raw(): Promise<Buffer> {
    return Promise.reject(new Error('metadata-only search reads no body'));
  }
}

/** Index of the first of `length` positions (in UID order) whose UID is >= `uid`. */
function lowerBound(length: number, uidAt: (i: number) => number, uid: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (uidAt(mid) < uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The folder's metadata of the view's UIDs, asked in increasing UID order:
 * both are in UID order, so a cursor walks them together rather than a
 * binary search per message. The folder publishes a new array on every
 * change (another session's APPEND or EXPUNGE while a search awaits); the
 * cursor then finds its place again in the new one.
 */
class MetaCursor {
  private metas: readonly MessageMeta[] | undefined;
  private at = 0;

  constructor(private readonly folder: Folder) {}

  /** The metadata of `uid`; undefined when it is gone (expunged by another session, not yet announced). */
  find(uid: number): MessageMeta | undefined {
    const now = this.folder.messages();
    if (now !== this.metas) {
      this.metas = now;
      this.at = lowerBound(now.length, (i) => now[i]!.uid, uid);
    }
    while (this.at < now.length && now[this.at]!.uid < uid) this.at++;
    return this.at < now.length && now[this.at]!.uid === uid ? now[this.at] : undefined;
  }
}

/** A message that matched, as SEARCH, SORT and THREAD report it. */
export interface SearchMatch {
  readonly seq: number;
  readonly meta: MessageMeta;
}

/**
 * The selected mailbox's messages that match `key`, in mailbox order
 * (shared by SEARCH, SORT and THREAD, RFC 5256 §3: they search exactly as
 * SEARCH does). Keys on flags, dates, sizes and numbers run on the index
 * alone; header keys use the cached summary; only BODY/TEXT read message
 * files. Paced through `work`; throws SearchWorkExceeded past
 * LIMITS.imapSearchWorkUnits.
 */
export async function findMatches(view: MailboxView, address: string, key: SearchKey, work: CommandWork): Promise<SearchMatch[]> {
  const hits: SearchMatch[] = [];
  await scanMatches(view, address, key, work, (seq, meta) => {
    hits.push({ seq, meta });
  });
  return hits;
}

/**
 * SEARCH's results as parallel typed arrays (sequence number, UID,
 * mod-sequence per hit, in mailbox order): SEARCH UNSEEN on a
 * 100,000-message folder has tens of thousands of hits, and an object per
 * hit (plus a string per number in the reply) cost more than finding them.
 */
class HitList {
  length = 0;
  seqs = new Uint32Array(64);
  uids = new Uint32Array(64);
  /** Mod-sequences are u64 in RFC 7162; ours stay below 2^53 (a JavaScript number, as in MessageMeta). */
  modseqs = new Float64Array(64);

  push(seq: number, uid: number, modseq: number): void {
    if (this.length === this.seqs.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.seqs = grow(this.seqs, (n) => new Uint32Array(n));
      this.uids = grow(this.uids, (n) => new Uint32Array(n));
      this.modseqs = grow(this.modseqs, (n) => new Float64Array(n));
    }
    this.seqs[this.length] = seq;
    this.uids[this.length] = uid;
    this.modseqs[this.length] = modseq;
    this.length++;
  }

  /** The numbers a reply names: UIDs for UID SEARCH, else sequence numbers (a view, not a copy). */
  numbers(uid: boolean): Uint32Array {
    return (uid ? this.uids : this.seqs).subarray(0, this.length);
  }

  highestModseq(): number {
    let m = 0;
    for (let i = 0; i < this.length; i++) if (this.modseqs[i]! > m) m = this.modseqs[i]!;
    return m;
  }

  /** The hits as the ESEARCH paths read them (RETURN options, SAVE, UPDATE): views of the arrays, no copies. */
  view(uid: boolean): SearchHits {
    return { length: this.length, n: this.numbers(uid), uids: this.uids.subarray(0, this.length), modseqs: this.modseqs.subarray(0, this.length) };
  }
}

/** The matches of `key` as a HitList (see findMatches). */
async function findHits(view: MailboxView, address: string, key: SearchKey, work: CommandWork): Promise<HitList> {
  const hits = new HitList();
  await scanMatches(view, address, key, work, (seq, meta) => hits.push(seq, meta.uid, meta.modseq));
  return hits;
}

/** What the walks of one SEARCH share: the folder, the compiled key and where to look. */
interface Walk {
  readonly view: MailboxView;
  readonly folder: Folder;
  readonly key: SearchKey;
  readonly ev: SearchEvaluator;
  readonly work: CommandWork;
  readonly uids: readonly number[];
  /** Positions `[from, to)` the key's sequence and UID sets allow (window.ts). */
  readonly from: number;
  readonly to: number;
  readonly metaOf: MetaCursor;
  readonly onHit: (seq: number, meta: MessageMeta) => void;
}

/** findMatches' walk: calls `onHit` for each match, in mailbox order. */
async function scanMatches(view: MailboxView, address: string, key: SearchKey, work: CommandWork, onHit: (seq: number, meta: MessageMeta) => void): Promise<void> {
  const folder = view.folder;
  const withSummary = needsSummary(key);
  const withBody = searchNeedsBody(key);
  // RFC 8474 §5.1: the id stored with each message (kept by COPY and MOVE).
  const emailIdOf = emailIds(folder);
  const threadIdOf = threadIds(address, emailIdOf);
  // SEARCH THREADID: messages without references join by subject (objectid.ts), which needs the folder's first message of each subject.
  const roots = hasThreadId(key) ? await subjectRoots(address, folder, work) : undefined;
  const ctx = {
    messageCount: view.count,
    maxUid: view.lastUid,
    savedUids: view.savedSearch,
    emailIdOf,
    threadIdOf: (fields: SortFields | null, uid: number) => threadIdOf(fields, uid, roots),
  };
  const ev = new SearchEvaluator(key, ctx, {
    pacer: work,
    maxUnits: LIMITS.imapSearchWorkUnits,
  });
  const uids = view.allUids();
  // Only the messages the key's sequence and UID sets allow (a UID SEARCH of
  // the last 10,000 of 100,000 looks at 10,000); the key still decides each.
  const window = searchWindow(key, uids);
  const walk: Walk = { view, folder, key, ev, work, uids, from: window.from, to: window.to, metaOf: new MetaCursor(folder), onHit };
  if (flagsOnly(key) || isOneRange(key, uids)) return walkFlagsOnly(walk);
  if (!withSummary && !withBody) return walkMetadataOnly(walk);
  // SUBJECT/FROM/TO/CC/BCC alone: compare the messages' search-fields records (fields.ts), no summaries read.
  if (searchUsesRecords(key)) return walkRecords(walk);
  // BODY/TEXT with nothing else that needs the summary: bodies decide, summaries only for messages the fast path declines.
  if (!needsSummaryBesidesBody(key)) return walkBodyOnly(walk);
  return walkBatches(walk, withSummary, withBody);
}

/** Messages between two looks at CommandWork (one `due` per message cost more than the flag test). */
const FLAGS_WORK_EVERY = 512;

/** FlagDecider's table: not decided yet, no, yes. */
const UNDECIDED = 0;
const NO = 1;
const YES = 2;

/**
 * A flags-only key's answers, decided once per distinct FLAG_* bits value
 * (the five system flags make at most 32) and looked up per message. The
 * bits stand for a message's flags exactly unless the message has a flag
 * spelled oddly (FLAG_ODD) or, when the key names a keyword, a keyword:
 * those messages are decided once per distinct flag list instead.
 */
class FlagDecider {
  private readonly table = new Uint8Array(128);
  /** FLAG_* bits with which a message's bits do not stand for its flags: byList decides it. */
  private readonly slowBits: number;
  private readonly memo = new Map<string, boolean>();
  private readonly msg = new MetadataMessage();

  constructor(
    key: SearchKey,
    private readonly ev: SearchEvaluator,
  ) {
    this.slowBits = flagKeysAreSystem(key) ? FLAG_ODD : FLAG_ODD | FLAG_KEYWORD;
  }

  /** The answer for a message with FLAG_* bits `b`. */
  decide(b: number, seq: number, meta: MessageMeta): boolean {
    return (b & this.slowBits) === 0 ? this.byBits(b, seq, meta) : this.byList(seq, meta);
  }

  /** The answer for a message whose bits `b` decide: the first message with them is evaluated, the others reuse its answer. */
  private byBits(b: number, seq: number, meta: MessageMeta): boolean {
    let t = this.table[b]!;
    if (t === UNDECIDED) t = this.table[b] = this.evaluate(seq, meta) ? YES : NO;
    return t === YES;
  }

  /** The answer for a message whose bits do not decide. */
  private byList(seq: number, meta: MessageMeta): boolean {
    const k = flagListKey(meta.flags);
    let m = this.memo.get(k);
    if (m === undefined) {
      m = this.evaluate(seq, meta);
      if (this.memo.size < FLAG_MEMO_MAX) this.memo.set(k, m);
    }
    return m;
  }

  private evaluate(seq: number, meta: MessageMeta): boolean {
    this.msg.set(seq, meta, false);
    const m = this.ev.decideOnMetadata(this.msg) === true;
    this.ev.checkBudget();
    return m;
  }
}

/** Index of the first position with a UID >= `uid` in an ascending UID column. */
function lowerBoundIn(uids: Uint32Array, uid: number): number {
  return lowerBound(uids.length, (i) => uids[i]!, uid);
}

/**
 * Are the view's UIDs at [from, to) exactly the column's from `at` on? The
 * usual case (nothing expunged or added since the view last caught up):
 * then position i of the view is position i + (at - from) of the column,
 * with no UID compare per message. One conversion and one memcmp.
 */
function inStep(uids: readonly number[], from: number, to: number, col: Uint32Array, at: number): boolean {
  const len = to - from;
  if (len <= 0 || at + len > col.length || uids[from] !== col[at] || uids[to - 1] !== col[at + len - 1]) return false;
  const mine = new Uint32Array(from === 0 && to === uids.length ? uids : uids.slice(from, to));
  return Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength).equals(Buffer.from(col.buffer, col.byteOffset + 4 * at, 4 * len));
}

/**
 * Keys on flags alone (SEARCH UNSEEN, FLAGGED, KEYWORD x, NOT DELETED, ALL)
 * and a key that is one UID or sequence range. They read the folder's flag
 * column (UIDs and FLAG_* bits as typed arrays, kept by the store on every
 * commit) instead of a metadata object and flag array per message, and
 * decide per distinct bits value (FlagDecider): per message, one byte and
 * one table lookup; a metadata object is read only for a hit. When the
 * view is in step with the column (inStep) positions map by an offset;
 * otherwise the two are walked side by side, both in UID order, skipping
 * what another session expunged and the view has not been told yet. The
 * column is looked up again only after a pause (another session's APPEND,
 * EXPUNGE or STORE can publish a new one only then).
 */
async function walkFlagsOnly(w: Walk): Promise<void> {
  const { folder, key, ev, work, uids, onHit } = w;
  // A key that is one UID/sequence range matches its whole window.
  const whole = isOneRange(key, uids);
  const decider = new FlagDecider(key, ev);
  let metas = folder.messages();
  let col = folder.flagColumn();
  let j = w.from < w.to ? lowerBoundIn(col.uids, uids[w.from]!) : 0;
  let stepped = inStep(uids, w.from, w.to, col.uids, j);
  for (let start = w.from; start < w.to; start += FLAGS_WORK_EVERY) {
    const end = Math.min(w.to, start + FLAGS_WORK_EVERY);
    const colUids = col.uids;
    const bits = col.bits;
    if (stepped) {
      // Position i of the view is position i + offset of the column.
      const offset = j - start;
      for (let i = start; i < end; i++) {
        const k = i + offset;
        if (whole || decider.decide(bits[k]!, i + 1, metas[k]!)) onHit(i + 1, metas[k]!);
      }
      j = end + offset;
    } else {
      const n = colUids.length;
      for (let i = start; i < end; i++) {
        const uid = uids[i]!;
        while (j < n && colUids[j]! < uid) j++;
        if (j === n || colUids[j] !== uid) continue; // expunged by another session, not yet announced
        if (whole || decider.decide(bits[j]!, i + 1, metas[j]!)) onHit(i + 1, metas[j]!);
      }
    }
    if (end < w.to && work.due(end - start)) {
      await work.pause();
      const now = folder.messages();
      if (now !== metas) {
        metas = now;
        col = folder.flagColumn();
        j = lowerBoundIn(col.uids, uids[end]!);
        stepped = inStep(uids, end, w.to, col.uids, j);
      }
    }
  }
}

/**
 * Other keys on index metadata alone (dates, sizes, sets, \Recent, MODSEQ)
 * decide synchronously: one reused message object, no batches, no maps — on
 * a 100,000-message folder the allocations cost more than the tests.
 */
async function walkMetadataOnly(w: Walk): Promise<void> {
  const { view, key, ev, work, uids, metaOf, onHit } = w;
  const msg = new MetadataMessage();
  // \Recent is looked up only when asked.
  const withRecent = anySearchKey(key, (k) => k.op === 'recent');
  for (let i = w.from; i < w.to; i++) {
    const uid = uids[i]!;
    const meta = metaOf.find(uid);
    if (!meta) continue; // expunged by another session, not yet announced
    msg.set(i + 1, meta, withRecent && view.isRecent(uid));
    if (ev.decideOnMetadata(msg) === true) onHit(i + 1, meta);
    ev.checkBudget();
    if (work.due()) await work.pause();
  }
}

/**
 * SUBJECT/FROM/TO/CC/BCC: each message decided synchronously from its
 * record; the rare message without one (its summary unusable) takes the
 * general way, in its place so the hits stay in mailbox order.
 */
async function walkRecords(w: Walk): Promise<void> {
  const { view, folder, key, ev, work, uids, metaOf, onHit } = w;
  const msg = new MetadataMessage();
  const withRecent = anySearchKey(key, (k) => k.op === 'recent');
  for (let start = w.from; start < w.to; start += RECORD_BATCH) {
    const end = Math.min(w.to, start + RECORD_BATCH);
    const records = await folder.searchFields(uids.slice(start, end));
    for (let i = start; i < end; i++) {
      const uid = uids[i]!;
      const meta = metaOf.find(uid);
      if (!meta) continue; // expunged by another session, not yet announced
      const rec = records.get(uid);
      msg.set(i + 1, meta, withRecent && view.isRecent(uid));
      let match: boolean | null = null;
      if (rec) {
        msg.record = rec;
        match = ev.decideWithRecord(msg, rec);
      }
      if (match === null) {
        ev.forget();
        const summaries = await loadSummaries(folder, [uid]);
        if (!summaries.has(uid)) continue; // expunged meanwhile
        const one = new IndexedMessage(i + 1, meta, view.isRecent(uid), { folder, summaries, bodies: undefined });
        try {
          match = await ev.matches(one);
        } catch (err) {
          if (isStoreError(err, 'NONEXISTENT')) continue;
          throw err;
        }
      }
      if (match) onHit(i + 1, meta);
      ev.checkBudget();
      if (work.due()) await work.pause();
    }
  }
}

/**
 * BODY/TEXT with metadata keys only (flags, sets, dates, sizes): what the
 * metadata decides is decided without a read; the other bodies are read
 * ahead in order (BodyReadAhead) and each decided synchronously from its
 * texts, folded once for all keys (SearchEvaluator.decideWithFoldedBody).
 * A single-part ASCII text/plain message needs no summary (plain-body.ts);
 * any other message takes its cached summary, or is analysed from the
 * bytes already read.
 */
async function walkBodyOnly(w: Walk): Promise<void> {
  const { view, folder, key, ev, work, uids, metaOf, onHit } = w;
  const msg = new MetadataMessage();
  const withRecent = anySearchKey(key, (k) => k.op === 'recent');
  for (let start = w.from; start < w.to; start += SEARCH_BATCH) {
    const end = Math.min(w.to, start + SEARCH_BATCH);
    // Decide on metadata first (MATCH or NO_MATCH); what stays open needs its body, read in this order.
    const metas: Array<MessageMeta | undefined> = new Array<MessageMeta | undefined>(end - start);
    const state = new Uint8Array(end - start);
    const need: Array<{ uid: number; size: number }> = [];
    for (let i = start; i < end; i++) {
      const meta = metaOf.find(uids[i]!);
      if (!meta) continue; // expunged by another session, not yet announced
      metas[i - start] = meta;
      msg.set(i + 1, meta, withRecent && view.isRecent(meta.uid));
      const d = ev.decideOnMetadata(msg);
      state[i - start] = d === null ? OPEN : d ? MATCH : NO_MATCH;
      if (d === null) need.push({ uid: meta.uid, size: meta.size });
    }
    ev.checkBudget();
    const bodies = new BodyReadAhead(folder, need);
    // Hits in mailbox order: the metadata's and the bodies' answers in one pass.
    for (let i = start; i < end; i++) {
      const meta = metas[i - start];
      if (!meta || state[i - start] === NO_MATCH) continue;
      if (state[i - start] === OPEN) {
        let raw: Buffer;
        try {
          raw = await bodies.read(meta.uid);
        } catch (err) {
          if (isStoreError(err, 'NONEXISTENT')) continue; // expunged meanwhile
          throw err;
        }
        const texts = ev.plainTexts(raw) ?? ev.decodedTexts(raw, await summaryOf(folder, meta.uid, raw));
        msg.set(i + 1, meta, withRecent && view.isRecent(meta.uid));
        const match = ev.decideWithFoldedBody(msg, texts);
        ev.checkBudget();
        if (work.due()) await work.pause();
        if (!match) continue;
      }
      onHit(i + 1, meta);
    }
  }
}

/** walkBodyOnly's per-message state after the metadata pass. */
const NO_MATCH = 0;
const MATCH = 1;
const OPEN = 2;

/** A message's current summary: the cached one, else analysed from the bytes already read (as loadSummaries does from the file). */
async function summaryOf(folder: Folder, uid: number, raw: Buffer): Promise<MessageSummary> {
  const cached = (await folder.getSummaries([uid])).get(uid);
  return isCurrentSummary(cached) ? cached : analyzeMessage(raw);
}

/**
 * The general walk, for keys that need summaries (HEADER, SENTDATE,
 * THREADID, with or without BODY/TEXT): batches decide what index metadata
 * can, then fetch the cached summaries of the rest with few reads, then
 * read the bodies still needed ahead, in order.
 */
async function walkBatches(w: Walk, withSummary: boolean, withBody: boolean): Promise<void> {
  const { view, folder, ev, work, uids, metaOf, onHit } = w;
  for (let start = w.from; start < w.to; start += SEARCH_BATCH) {
    ev.forget();
    const batch: { msg: SearchMessage; meta: MessageMeta }[] = [];
    const summaries = new Map<number, MessageSummary | null>();
    const source: BatchSource = { folder, summaries, bodies: undefined };
    for (let i = start; i < Math.min(w.to, start + SEARCH_BATCH); i++) {
      const meta = metaOf.find(uids[i]!);
      if (!meta) continue; // expunged by another session, not yet announced
      // RFC 3501 §6.4.4 RECENT / NEW / OLD
      const msg = new IndexedMessage(i + 1, meta, view.isRecent(meta.uid), source);
      batch.push({ msg, meta });
    }
    const decided = new Map<number, boolean>();
    if (withSummary) {
      const undecided: number[] = [];
      for (const { msg } of batch) {
        const d = ev.decideOnMetadata(msg);
        if (d === null) undecided.push(msg.uid);
        else decided.set(msg.uid, d);
        if (work.due()) await work.pause();
      }
      ev.checkBudget();
      for (const [u, v] of await loadSummaries(folder, undecided)) summaries.set(u, v);
    }
    if (withBody) {
      // Bodies of the messages nothing else decides, read ahead in order.
      const need: SearchMessage[] = [];
      for (const { msg } of batch) {
        if (decided.has(msg.uid) || (withSummary && !summaries.has(msg.uid))) continue;
        if ((await ev.decideWithoutBody(msg)) === null) need.push(msg);
        if (work.due()) await work.pause();
      }
      source.bodies = new BodyReadAhead(folder, need.map((m) => ({ uid: m.uid, size: m.size })));
    }
    for (const { msg, meta } of batch) {
      // Keys on index metadata only decide synchronously: no promise per message.
      let match = decided.get(msg.uid) ?? (withSummary || withBody ? undefined : (ev.decideOnMetadata(msg) ?? undefined));
      if (match === undefined) {
        if (withSummary && !summaries.has(msg.uid)) continue; // expunged meanwhile
        try {
          match = await ev.matches(msg);
        } catch (err) {
          if (isStoreError(err, 'NONEXISTENT')) continue;
          throw err;
        }
      }
      if (match) onHit(msg.seq, meta);
      ev.checkBudget();
      if (work.due()) await work.pause();
    }
  }
}

/** RFC 7162 §3.1.5: a search with MODSEQ in it enables CONDSTORE and reports the highest mod-sequence of the hits. */
export function modseqSearch(ctx: SessionContext, key: SearchKey): boolean {
  const used = usesModseq(key);
  if (used) ctx.enabled.add('CONDSTORE');
  return used;
}

/**
 * RFC 3501 §6.4.4 SEARCH / UID SEARCH, with MODSEQ (RFC 7162 §3.1.5),
 * RETURN options (RFC 4731 ESEARCH) and SAVE / `$` (RFC 5182 SEARCHRES).
 * Keys on flags, dates, sizes and numbers run on the index alone; header
 * keys use the cached summary; only BODY/TEXT read message files.
 *
 * Bounded (issue 9): the parser refuses more than LIMITS.imapSearchKeys
 * keys, nesting deeper than LIMITS.imapSearchDepth and sets of more than
 * LIMITS.imapSequenceSetRanges ranges; the evaluation gives the event loop
 * back every LIMITS.imapWorkSliceMs and stops with NO [LIMIT] (RFC 5530)
 * once it has done LIMITS.imapSearchWorkUnits of work.
 */
function searchCommand(uid: boolean): CommandSpec<SearchArgs> {
  return defineCommand({
    name: uid ? 'UID SEARCH' : 'SEARCH',
    states: SELECTED,
    holdExpunges: !uid,
    parse(args) {
      const r = parseSearch(args);
      if (!r.ok) {
        const save = returnsSave(args);
        if (r.badCharset) return ok<SearchArgs>({ kind: 'bad-charset', save });
        if (save) return ok<SearchArgs>({ kind: 'failed-save', error: r.error, limit: Boolean(r.limit) });
        return r.limit ? overLimit(r.error) : fail(r.error);
      }
      return ok<SearchArgs>({ kind: 'query', query: r.value });
    },
    async handle(ctx, a, cmd) {
      const view = ctx.selected!;
      if (a.kind === 'failed-save') {
        view.savedSearch = [];
        return a.limit ? noResult(`${cmd.name}: ${a.error}`, { name: 'LIMIT' }) : badResult(`${cmd.name}: ${a.error}`);
      }
      if (a.kind === 'bad-charset') {
        if (a.save) view.savedSearch = [];
        return badCharset();
      }
      // RFC 9051 §6.4.4, Appendix E item 4: an IMAP4rev2 SEARCH always answers ESEARCH (no RETURN = RETURN (ALL)).
      const returnOptions = a.query.returnOptions ?? (ctx.enabled.has('IMAP4rev2') ? [] : undefined);
      const save = returnOptions?.includes('SAVE') ?? false;
      const modseqQuery = modseqSearch(ctx, a.query.key);
      const changesAtStart = view.changes;
      let found: HitList;
      try {
        found = await findHits(view, view.folder.owner, a.query.key, new CommandWork());
      } catch (err) {
        // RFC 5182 §2.1: a failed SEARCH RETURN (SAVE) leaves `$` empty.
        if (save) view.savedSearch = [];
        if (err instanceof SearchWorkExceeded) return noResult(`${err.message}; narrow the search`, { name: 'LIMIT' });
        throw err;
      }
      if (returnOptions) {
        const hits = found.view(uid);
        // RFC 4731 ESEARCH; RFC 5182 SAVE keeps the result as `$` (by UID).
        if (save) view.savedSearch = uidsToSave(returnOptions, hits);
        const response = esearchResponse(cmd.tag, uid, returnOptions, hits, modseqQuery, a.query.partial);
        if (response) ctx.send(response);
        if (returnOptions.includes('UPDATE')) {
          // RFC 5267 §4.2: keep the result up to date (context-update.ts), or say we will not.
          const address = view.folder.owner;
          const key = a.query.key;
          const rerun = async (work: CommandWork): Promise<number[]> => (await findMatches(view, address, key, work)).map((m) => m.meta.uid);
          const kept = keepUpdated(view, { tag: cmd.tag, uid, sorted: false, rerun }, Array.from(hits.uids), changesAtStart);
          if (!kept) return okResult('SEARCH completed, too many searches kept up to date', noUpdateCode(cmd.tag));
        }
        return okResult(save ? 'SEARCH completed, result saved' : 'SEARCH completed');
      }
      // RFC 3501 §7.2.5: `* SEARCH` and the numbers, none when nothing matched.
      const items: ResponseValue[] = found.length ? [atom('SEARCH'), nums(found.numbers(uid))] : [atom('SEARCH')];
      // RFC 7162 §3.1.5: with MODSEQ in the criteria, report the highest mod-sequence of the hits.
      if (modseqQuery && found.length) items.push(list([atom('MODSEQ'), num(found.highestModseq())]));
      ctx.send(data(...items));
      return okResult('SEARCH completed');
    },
  });
}

export function highestModseq(hits: readonly SearchMatch[]): number {
  let highest = 0;
  for (const h of hits) if (h.meta.modseq > highest) highest = h.meta.modseq;
  return highest;
}

/** RFC 3501 §7.1 BADCHARSET, listing what we accept. */
export function badCharset(): CommandResult {
  return noResult('Unsupported charset', { name: 'BADCHARSET', args: [list(SEARCH_CHARSETS.map(atom))] });
}

export const SEARCH = searchCommand(false);
export const UID_SEARCH = searchCommand(true);
