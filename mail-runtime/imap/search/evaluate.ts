/**
 * Evaluates a SEARCH AST (RFC 3501 §6.4.4) against messages through an
 * accessor, so the IMAP layer stays ignorant of the store. Keys answerable
 * from metadata and the cached summary are decided first; the body is read
 * (once) only when BODY or TEXT can still change the answer.
 *
 * Bounded work (issue 9): a query is compiled once — sequence sets merged
 * into sorted ranges and searched by bisection, search strings case-folded
 * once — so a key costs the same on every message whatever its set looks
 * like. A message's header field or body text is decoded once for all the
 * keys that look at it. The evaluator counts the work it does (`units`)
 * for the caller's budget, and between two text scans asks the caller's
 * pacer whether to let other sessions run.
 */
import { decodedAddressText, decodedHeaderValues, unicodeCasemap, type MessageSummary, type SortFields } from '../message';
import { dayNumber, sequenceSetMatcher, type CalendarDate, type SequenceSet } from '../protocol';
import { FIELD_INDEX, recordAnswers, SUBJECTS_AT } from './fields';
import type { AddressField, DateComparison, SearchKey } from './parse';
import { decodedSearchTexts, plainSearchTexts, textIncludes, type FoldedTexts, type TextKinds } from './plain-body';

/** What the evaluator needs to know about one message. */
export interface SearchMessage {
  readonly seq: number;
  readonly uid: number;
  readonly flags: readonly string[];
  readonly internalDate: Date;
  /** Zone the INTERNALDATE was given in (minutes east of UTC); default 0. */
  readonly internalDateOffsetMinutes?: number;
  readonly size: number;
  readonly modseq: bigint;
  readonly recent: boolean;
  /** The cached summary; `null` when not loaded (keys that need it are then undecided). */
  summary(): MessageSummary | null;
  /**
   * The message's search-fields record (./fields.ts), when there is one:
   * SUBJECT/FROM/TO/CC/BCC keys with a non-empty string are then answered
   * from it, without the summary.
   */
  fields?(): readonly string[] | null;
  raw(): Promise<Buffer>;
}

export interface SearchContext {
  /** Messages in the mailbox (`*` of a sequence set). */
  readonly messageCount: number;
  /** Highest UID in the mailbox (`*` of a UID set). */
  readonly maxUid: number;
  /** UIDs of the saved result for `$` (RFC 5182); empty when none. */
  readonly savedUids?: readonly number[];
  /** A message's EMAILID (RFC 8474 §5.1); without it SEARCH EMAILID matches nothing. */
  readonly emailIdOf?: (uid: number) => string;
  /** A message's THREADID (RFC 8474 §5.2) from its summary's SORT/THREAD material; without it SEARCH THREADID matches nothing. */
  readonly threadIdOf?: (fields: SortFields | null, uid: number) => string;
}

/**
 * Case-insensitive comparison form: RFC 9051 §6.4.4 makes SEARCH's
 * substring matching use the i;unicode-casemap comparator (RFC 5051), so
 * "Ä" finds "ä" and "ı" finds "I" (message/casemap.ts).
 */
const fold = unicodeCasemap;

function compareDay(day: number, cmp: DateComparison, date: CalendarDate): boolean {
  const want = dayNumber(date);
  return cmp === 'before' ? day < want : cmp === 'on' ? day === want : day >= want;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The calendar date written in a Date header (RFC 5322 §3.3), time and zone
 * disregarded as RFC 3501 §6.4.4 asks for SENT* keys. Null if unparsable.
 */
export function sentDay(dateHeader: string | null): number | null {
  if (!dateHeader) return null;
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(dateHeader);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2].toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  // RFC 5322 §4.3 obsolete two- and three-digit years.
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  return dayNumber({ year, month: month + 1, day: Number(m[1]) });
}

function internalDay(msg: SearchMessage): number {
  const local = msg.internalDate.getTime() + (msg.internalDateOffsetMinutes ?? 0) * 60_000;
  return Math.floor(local / 86_400_000);
}

/**
 * Work units, about 100 ns of CPU each on the machines this was measured on
 * (2 cores, Node 20; a 3,000-message folder of 1 KB and one of 35 KB
 * messages): looking at one key for one message is 1 unit; decoding a
 * header field or a message's text (RFC 2047, transfer encodings, charsets,
 * case folding) costs `decodeUnits` of its size, scanning decoded text for
 * one search string `scanUnits` of its length.
 */
const UNITS_PER_KEY = 1;
/** Decoding: a fixed cost per decode (header parsing, MIME walk) plus one unit per 16 octets. */
const decodeUnits = (octets: number): number => 300 + octets / 16;
/** Substring search: a fixed cost per key and message plus one unit per 128 characters scanned. */
const scanUnits = (chars: number): number => 3 + chars / 128;

/** How the evaluator lets its caller pace long work (CommandWork in the IMAP commands fits). */
export interface SearchPacer {
  /** Counts `units` of work; true when the caller wants to pause before the next step. */
  due(units: number): boolean;
  pause(): Promise<void>;
}

const NO_PACER: SearchPacer = { due: () => false, pause: () => Promise.resolve() };

/** The query needed more than `maxUnits` of work (the caller answers NO [LIMIT], RFC 5530). */
export class SearchWorkExceeded extends Error {
  constructor(readonly maxUnits: number) {
    super(`SEARCH needs more work than allowed (${maxUnits} units)`);
  }
}

export interface SearchEvaluatorOptions {
  /** Asked between text scans whether to let other sessions run. Default: never pause. */
  pacer?: SearchPacer;
  /** Work allowed for the whole query; above it `checkBudget()` and text scans throw SearchWorkExceeded. Default: unbounded. */
  maxUnits?: number;
}

type TextKey = Extract<SearchKey, { op: 'header' | 'address' | 'body' | 'text' }>;

/** Three-valued: true, false, or null = needs more than this level can see. */
type Tri = boolean | null;

/**
 * What evalKey may look at: index metadata only, also a search-fields
 * record, also the cached summary, also the body (answers computed), or
 * metadata and the folded body texts (decideWithFoldedBody's answers).
 */
type Level = 'metadata' | 'record' | 'summary' | 'body' | 'folded';

/**
 * One SEARCH query compiled for one mailbox state (`ctx`). Use it for every
 * message of the command; `units` is the work done so far.
 */
export class SearchEvaluator {
  units = 0;
  private readonly sets = new Map<SequenceSet, (n: number) => boolean>();
  /** Case-folded search strings and flag names, by key. */
  private readonly folded = new Map<SearchKey, string>();
  private readonly headerKeys: Array<Extract<SearchKey, { op: 'header' }>> = [];
  private readonly addressKeys: Array<Extract<SearchKey, { op: 'address' }>> = [];
  private readonly bodyKeys: Array<Extract<SearchKey, { op: 'body' | 'text' }>> = [];
  /** Answers of header/body/text keys, per message UID, until the message is decided. */
  private readonly answers = new Map<number, Map<TextKey, boolean>>();
  private readonly saved: ReadonlySet<number>;
  /** Every header and address key can be answered from a search-fields record (./fields.ts). */
  private recordsSuffice = true;
  /** Answers of the header and address keys for the message decideWithRecord is deciding (reused). */
  private readonly recordAnswers = new Map<TextKey, boolean>();
  /** Answers of the BODY/TEXT keys for the message decideWithFoldedBody is deciding (reused). */
  private readonly foldedAnswers = new Map<TextKey, boolean>();
  /** Which texts the BODY and TEXT keys look in. */
  private readonly kinds: TextKinds;
  private readonly pacer: SearchPacer;
  private readonly maxUnits: number;

  constructor(
    readonly key: SearchKey,
    private readonly ctx: SearchContext,
    opts: SearchEvaluatorOptions = {},
  ) {
    this.saved = new Set(ctx.savedUids ?? []);
    this.pacer = opts.pacer ?? NO_PACER;
    this.maxUnits = opts.maxUnits ?? Number.POSITIVE_INFINITY;
    this.compile(key);
    this.recordsSuffice = [...this.headerKeys, ...this.addressKeys].every(recordAnswers);
    this.kinds = { body: this.bodyKeys.some((k) => k.op === 'body'), text: this.bodyKeys.some((k) => k.op === 'text') };
  }

  /** Throws SearchWorkExceeded once the work done is over the budget (call between messages). */
  checkBudget(): void {
    if (this.units > this.maxUnits) throw new SearchWorkExceeded(this.maxUnits);
  }

  private compile(key: SearchKey): void {
    switch (key.op) {
      case 'and':
        for (const k of key.keys) this.compile(k);
        return;
      case 'or':
        this.compile(key.left);
        this.compile(key.right);
        return;
      case 'not':
        this.compile(key.key);
        return;
      case 'seq':
      case 'uid':
        if (key.set.kind === 'set') this.sets.set(key.set, sequenceSetMatcher(key.set, key.op === 'seq' ? this.ctx.messageCount : this.ctx.maxUid));
        return;
      case 'flag':
        this.folded.set(key, fold(key.flag));
        return;
      case 'header':
        this.folded.set(key, fold(key.value));
        this.headerKeys.push(key);
        return;
      case 'address':
        this.folded.set(key, fold(key.value));
        this.addressKeys.push(key);
        return;
      case 'body':
      case 'text':
        this.folded.set(key, fold(key.value));
        this.bodyKeys.push(key);
        return;
      default:
        return;
    }
  }

  /** Decides from index metadata alone (flags, dates, sizes, numbers) when it can; null: header or body keys must be looked at. */
  decideOnMetadata(msg: SearchMessage): Tri {
    return this.evalKey(this.key, msg, 'metadata', new FlagCache(msg));
  }

  /**
   * Decides synchronously from index metadata and the message's
   * search-fields record (./fields.ts), for a key searchUsesRecords()
   * accepts; null if the key needs more (then use matches()).
   */
  decideWithRecord(msg: SearchMessage, rec: readonly string[]): Tri {
    if (!this.recordsSuffice) return null;
    this.recordAnswers.clear();
    this.units += scanUnits(this.answerFromRecord(rec, this.recordAnswers));
    return this.evalKey(this.key, msg, 'record', new FlagCache(msg));
  }

  /** Fills `answers` for every header and address key from a record; returns the characters scanned. */
  private answerFromRecord(rec: readonly string[], answers: Map<TextKey, boolean>): number {
    let scanned = 0;
    if (this.headerKeys.length) {
      for (let i = SUBJECTS_AT; i < rec.length; i++) scanned += rec[i]!.length;
      for (const k of this.headerKeys) {
        const needle = this.folded.get(k)!;
        let found = false;
        for (let i = SUBJECTS_AT; i < rec.length && !found; i++) found = rec[i]!.includes(needle);
        answers.set(k, found);
      }
    }
    for (const k of this.addressKeys) {
      const text = rec[FIELD_INDEX[k.field]] ?? '';
      scanned += text.length;
      answers.set(k, text.includes(this.folded.get(k)!));
    }
    return scanned;
  }

  /** Decides without the body (metadata and the cached summary); null: BODY/TEXT must look at it. */
  async decideWithoutBody(msg: SearchMessage): Promise<Tri> {
    await this.answerHeaders(msg);
    return this.evalKey(this.key, msg, 'summary', new FlagCache(msg));
  }

  /** Whether the message matches; reads the body only if metadata and summary cannot decide. */
  async matches(msg: SearchMessage): Promise<boolean> {
    try {
      const quick = await this.decideWithoutBody(msg);
      if (quick !== null) return quick;
      await this.answerBodies(msg, await msg.raw());
      return this.evalKey(this.key, msg, 'body', new FlagCache(msg)) === true;
    } finally {
      this.answers.delete(msg.uid);
    }
  }

  /** Drops what is remembered about messages not finished with `matches()` (e.g. expunged meanwhile). */
  forget(): void {
    this.answers.clear();
  }

  private answersOf(uid: number): Map<TextKey, boolean> {
    let a = this.answers.get(uid);
    if (!a) {
      a = new Map();
      this.answers.set(uid, a);
    }
    return a;
  }

  private async step(units: number): Promise<void> {
    this.units += units;
    this.checkBudget();
    if (this.pacer.due(units)) await this.pacer.pause();
  }

  /** Answers every header and address key from the summary: each field decoded once, a pause allowed between scans. */
  private async answerHeaders(msg: SearchMessage): Promise<void> {
    const first: TextKey | undefined = this.headerKeys[0] ?? this.addressKeys[0];
    if (!first) return;
    const answers = this.answersOf(msg.uid);
    if (answers.has(first)) return;
    const rec = this.recordsSuffice ? (msg.fields?.() ?? null) : null;
    if (rec) {
      // The record holds what the summary path below computes (decoded, folded): compare only.
      await this.step(scanUnits(this.answerFromRecord(rec, answers)));
      return;
    }
    const summary = msg.summary();
    if (!summary) return;
    const fields = new Map<string, string[]>();
    for (const k of this.headerKeys) {
      const name = k.field.toLowerCase();
      let values = fields.get(name);
      if (!values) {
        values = decodedHeaderValues(summary.header, k.field).map(fold);
        fields.set(name, values);
        await this.step(decodeUnits(summary.header.length));
      }
      const needle = this.folded.get(k)!;
      // RFC 3501 §6.4.4: HEADER with an empty string matches every message that has the field.
      answers.set(k, k.value === '' ? values.length > 0 : values.some((v) => v.includes(needle)));
      await this.step(scanUnits(values.reduce((n, v) => n + v.length, 0)));
    }
    const addresses = new Map<AddressField, string>();
    for (const k of this.addressKeys) {
      let text = addresses.get(k.field);
      if (text === undefined) {
        text = fold(decodedAddressText(summary.envelope[k.field]));
        addresses.set(k.field, text);
        await this.step(decodeUnits(text.length));
      }
      // RFC 3501 §6.4.4 FROM/TO/CC/BCC: a substring of the envelope's address field; like HEADER, "" asks whether there is one.
      answers.set(k, k.value === '' ? summary.envelope[k.field] !== null : text.includes(this.folded.get(k)!));
      await this.step(scanUnits(text.length));
    }
  }

  /**
   * The message's folded texts for the kinds the query's BODY/TEXT keys ask
   * for, by the fast path (plain-body.ts: a single-part ASCII text/plain
   * message, no summary needed); null when the message needs the general
   * way (decodedTexts). Counts its work like a decode.
   */
  plainTexts(raw: Buffer): FoldedTexts | null {
    const texts = plainSearchTexts(raw, this.kinds);
    if (texts) this.units += this.decodeCost(raw);
    return texts;
  }

  /** Decoding the kinds of text asked for: one decode per kind, as answerHeaders counts one per field. */
  private decodeCost(raw: Buffer): number {
    return (Number(this.kinds.body) + Number(this.kinds.text)) * decodeUnits(raw.length);
  }

  /** The message's folded texts the general way: its text parts decoded per the summary's MIME structure. */
  decodedTexts(raw: Buffer, summary: MessageSummary): FoldedTexts {
    this.units += this.decodeCost(raw);
    return decodedSearchTexts(raw, summary, this.kinds);
  }

  /** Fills `answers` for every BODY/TEXT key from the folded texts; returns the characters scanned. */
  private answerFromTexts(texts: FoldedTexts, answers: Map<TextKey, boolean>): number {
    let scanned = 0;
    for (const k of this.bodyKeys) {
      const text = (k.op === 'body' ? texts.body : texts.text) ?? [];
      for (const piece of text) scanned += piece.length;
      answers.set(k, textIncludes(text, this.folded.get(k)!));
    }
    return scanned;
  }

  /**
   * Decides synchronously from index metadata and the message's folded
   * texts (plainTexts or decodedTexts): each text is folded once, whatever
   * the number of keys that look in it. For a query whose only text keys
   * are BODY/TEXT (no header, address, SENTDATE or THREADID key: those are
   * unanswered here and count as no match).
   */
  decideWithFoldedBody(msg: SearchMessage, texts: FoldedTexts): boolean {
    this.foldedAnswers.clear();
    this.units += scanUnits(this.answerFromTexts(texts, this.foldedAnswers));
    return this.evalKey(this.key, msg, 'folded', new FlagCache(msg)) === true;
  }

  /** Answers every BODY/TEXT key: the message's text decoded and folded once per kind, a pause allowed after the scans. */
  private async answerBodies(msg: SearchMessage, raw: Buffer): Promise<void> {
    const summary = msg.summary();
    if (!this.bodyKeys.length || !summary) return;
    const texts = this.plainTexts(raw) ?? this.decodedTexts(raw, summary);
    await this.step(scanUnits(this.answerFromTexts(texts, this.answersOf(msg.uid))));
  }

  private inSet(set: SequenceSet, n: number, msg: SearchMessage): boolean {
    // `$` (RFC 5182) names the saved result by UID, whatever key it appears in.
    if (set.kind === 'saved') return this.saved.has(msg.uid);
    return this.sets.get(set)!(n);
  }

  private evalKey(key: SearchKey, msg: SearchMessage, level: Level, flags: FlagCache): Tri {
    this.units += UNITS_PER_KEY;
    switch (key.op) {
      case 'all':
        return true;
      case 'and': {
        let unknown = false;
        for (const k of key.keys) {
          const r = this.evalKey(k, msg, level, flags);
          if (r === false) return false;
          if (r === null) unknown = true;
        }
        return unknown ? null : true;
      }
      case 'or': {
        const a = this.evalKey(key.left, msg, level, flags);
        if (a === true) return true;
        const b = this.evalKey(key.right, msg, level, flags);
        if (b === true) return true;
        return a === null || b === null ? null : false;
      }
      case 'not': {
        const r = this.evalKey(key.key, msg, level, flags);
        return r === null ? null : !r;
      }
      case 'flag':
        return flags.has(this.folded.get(key)!) === key.set;
      case 'recent':
        return msg.recent === key.set;
      case 'header':
      case 'address':
        if (level === 'record') return this.recordAnswers.get(key) ?? null;
        return level === 'metadata' || level === 'folded' ? null : (this.answers.get(msg.uid)?.get(key) ?? null);
      case 'internaldate':
        return compareDay(internalDay(msg), key.cmp, key.date);
      case 'sentdate': {
        // RFC 3501 leaves a missing or unreadable Date open; like Dovecot we take it as
        // the earliest date: it is SENTBEFORE any date and never SENTON/SENTSINCE.
        const summary = level === 'metadata' || level === 'folded' ? null : msg.summary();
        if (!summary) return null;
        const day = sentDay(summary.envelope.date);
        if (day === null) return key.cmp === 'before';
        return compareDay(day, key.cmp, key.date);
      }
      case 'size':
        return key.cmp === 'larger' ? msg.size > key.n : msg.size < key.n;
      case 'seq':
        return this.inSet(key.set, msg.seq, msg);
      case 'uid':
        return this.inSet(key.set, msg.uid, msg);
      case 'modseq':
        return msg.modseq >= key.modseq;
      case 'objectid': {
        // RFC 8474 §6: EMAILID from the index; THREADID from the summary (the message's References).
        if (key.kind === 'EMAILID') return this.ctx.emailIdOf?.(msg.uid) === key.id;
        const summary = level === 'metadata' || level === 'folded' ? null : msg.summary();
        if (!summary) return null;
        return this.ctx.threadIdOf?.(summary.sort, msg.uid) === key.id;
      }
      case 'body':
      case 'text':
        if (level === 'folded') return this.foldedAnswers.get(key) ?? null;
        return level === 'body' ? (this.answers.get(msg.uid)?.get(key) ?? null) : null;
    }
  }
}

/**
 * A message's flags, compared case-insensitively (RFC 3501 §2.3.2). A
 * message carries a handful of flags: a scan beats building a Set per message (SEARCH UNSEEN on 100,000
 * messages built 100,000 of them).
 */
class FlagCache {
  constructor(private readonly msg: SearchMessage) {}
  has(folded: string): boolean {
    for (const f of this.msg.flags) if (f === folded || foldFlag(f) === folded) return true;
    return false;
  }
}

/**
 * Folded spellings of the flags seen so far. A folder uses a handful of
 * distinct flag strings, while SEARCH UNSEEN on 100,000 messages would
 * otherwise case-map `\Seen` 100,000 times (a new string each).
 * Bounded: past FOLDED_MAX distinct flags it folds without remembering.
 */
const FOLDED_MAX = 4096;
const folded = new Map<string, string>();
function foldFlag(f: string): string {
  let v = folded.get(f);
  if (v === undefined) {
    v = fold(f);
    if (folded.size < FOLDED_MAX) folded.set(f, v);
  }
  return v;
}

/** RFC 3501 §2.3.2 system flags, folded as a flag key is. */
const SYSTEM_FLAGS_FOLDED: ReadonlySet<string> = new Set(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map(fold));

/**
 * Does every flag key of the tree name a system flag (SEEN, UNSEEN,
 * DELETED, KEYWORD \Flagged …)? Then a message's keywords cannot change the
 * answer: messages with the same system flags get the same one.
 */
export function flagKeysAreSystem(key: SearchKey): boolean {
  return !anySearchKey(key, (k) => k.op === 'flag' && !SYSTEM_FLAGS_FOLDED.has(foldFlag(k.flag)));
}

/**
 * True when `leaf` holds for some key of the tree (through AND, OR, NOT):
 * what a search may need (body, summary, MODSEQ, THREADID) is decided by
 * the keys it contains, whatever the logic around them.
 */
export function anySearchKey(key: SearchKey, leaf: (k: SearchKey) => boolean): boolean {
  switch (key.op) {
    case 'and':
      return key.keys.some((k) => anySearchKey(k, leaf));
    case 'or':
      return anySearchKey(key.left, leaf) || anySearchKey(key.right, leaf);
    case 'not':
      return anySearchKey(key.key, leaf);
    default:
      return leaf(key);
  }
}

/**
 * True when the key's header and address keys can all be answered from
 * search-fields records (./fields.ts) and nothing else in it needs the
 * summary or body (SENTDATE, THREADID, HEADER of another field, BODY/TEXT).
 */
export function searchUsesRecords(key: SearchKey): boolean {
  let some = false;
  const other = anySearchKey(key, (k) => {
    if (recordAnswers(k)) {
      some = true;
      return false;
    }
    return k.op === 'header' || k.op === 'address' || k.op === 'sentdate' || k.op === 'body' || k.op === 'text' || (k.op === 'objectid' && k.kind === 'THREADID');
  });
  return some && !other;
}

/** True when evaluating `key` may need the message body (BODY/TEXT). */
export function searchNeedsBody(key: SearchKey): boolean {
  return anySearchKey(key, (k) => k.op === 'body' || k.op === 'text');
}

/** Decides from index metadata alone when it can (see SearchEvaluator.decideOnMetadata). */
export function decideOnMetadata(key: SearchKey, msg: SearchMessage, ctx: SearchContext): boolean | null {
  return new SearchEvaluator(key, ctx).decideOnMetadata(msg);
}

/** Whether one message matches; reads the body only if metadata cannot decide. */
export async function matchesSearch(key: SearchKey, msg: SearchMessage, ctx: SearchContext): Promise<boolean> {
  return new SearchEvaluator(key, ctx).matches(msg);
}

/** The messages (in the given order) that match. */
export async function searchMessages(key: SearchKey, messages: Iterable<SearchMessage>, ctx: SearchContext): Promise<SearchMessage[]> {
  const ev = new SearchEvaluator(key, ctx);
  const out: SearchMessage[] = [];
  for (const msg of messages) {
    if (await ev.matches(msg)) out.push(msg);
  }
  return out;
}
