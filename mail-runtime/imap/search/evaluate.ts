/**
 * Evaluates a SEARCH AST (RFC 3501 §6.4.4) against messages through an
 * accessor, so the IMAP layer stays ignorant of the store. Keys answerable
 * from metadata and the cached summary are decided first; the body is read
 * (once) only when BODY or TEXT can still change the answer.
 */
import { bodyTexts, decodedHeaderBlock, decodedHeaderValues, type MessageSummary } from '../message';
import { dayNumber, normalizeRanges, type CalendarDate, type SequenceSet } from '../protocol';
import type { DateComparison, SearchKey } from './parse';

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
  raw(): Promise<Buffer>;
}

export interface SearchContext {
  /** Messages in the mailbox (`*` of a sequence set). */
  readonly messageCount: number;
  /** Highest UID in the mailbox (`*` of a UID set). */
  readonly maxUid: number;
  /** UIDs of the saved result for `$` (RFC 5182); empty when none. */
  readonly savedUids?: readonly number[];
}

/** Case-insensitive comparison form (RFC 3501 §6.4.4: "case-insensitive substring"). */
function fold(s: string): string {
  return s.toLowerCase();
}

function contains(haystack: string, needle: string): boolean {
  return fold(haystack).includes(fold(needle));
}

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

/** `$` (RFC 5182) names the saved result by UID, whatever key it appears in. */
function inSet(set: SequenceSet, n: number, star: number, ctx: SearchContext, msg: SearchMessage): boolean {
  if (set.kind === 'saved') return (ctx.savedUids ?? []).includes(msg.uid);
  return normalizeRanges(set, star).some(([lo, hi]) => n >= lo && n <= hi);
}

/** Three-valued: true, false, or null = needs the body. */
type Tri = boolean | null;

function evalKey(key: SearchKey, msg: SearchMessage, ctx: SearchContext, raw: Buffer | null): Tri {
  switch (key.op) {
    case 'all':
      return true;
    case 'and': {
      let unknown = false;
      for (const k of key.keys) {
        const r = evalKey(k, msg, ctx, raw);
        if (r === false) return false;
        if (r === null) unknown = true;
      }
      return unknown ? null : true;
    }
    case 'or': {
      const a = evalKey(key.left, msg, ctx, raw);
      if (a === true) return true;
      const b = evalKey(key.right, msg, ctx, raw);
      if (b === true) return true;
      return a === null || b === null ? null : false;
    }
    case 'not': {
      const r = evalKey(key.key, msg, ctx, raw);
      return r === null ? null : !r;
    }
    case 'flag': {
      const want = key.flag.toLowerCase();
      return msg.flags.some((f) => f.toLowerCase() === want) === key.set;
    }
    case 'recent':
      return msg.recent === key.set;
    case 'header': {
      const summary = msg.summary();
      if (!summary) return null;
      const values = decodedHeaderValues(summary.header, key.field);
      // RFC 3501 §6.4.4: HEADER with an empty string matches every message that has the field.
      if (key.value === '') return values.length > 0;
      return values.some((v) => contains(v, key.value));
    }
    case 'internaldate':
      return compareDay(internalDay(msg), key.cmp, key.date);
    case 'sentdate': {
      // RFC 3501 leaves a missing or unreadable Date open; like Dovecot we take it as
      // the earliest date: it is SENTBEFORE any date and never SENTON/SENTSINCE.
      const summary = msg.summary();
      if (!summary) return null;
      const day = sentDay(summary.envelope.date);
      if (day === null) return key.cmp === 'before';
      return compareDay(day, key.cmp, key.date);
    }
    case 'size':
      return key.cmp === 'larger' ? msg.size > key.n : msg.size < key.n;
    case 'seq':
      return inSet(key.set, msg.seq, ctx.messageCount, ctx, msg);
    case 'uid':
      return inSet(key.set, msg.uid, ctx.maxUid, ctx, msg);
    case 'modseq':
      return msg.modseq >= key.modseq;
    case 'body':
    case 'text': {
      const summary = msg.summary();
      if (!raw || !summary) return null;
      const texts = bodyTexts(raw, summary, key.op === 'text');
      if (key.op === 'text') texts.unshift(decodedHeaderBlock(summary.header));
      return texts.some((t) => contains(t, key.value));
    }
  }
}

/** True when evaluating `key` may need the message body (BODY/TEXT). */
export function searchNeedsBody(key: SearchKey): boolean {
  switch (key.op) {
    case 'body':
    case 'text':
      return true;
    case 'and':
      return key.keys.some(searchNeedsBody);
    case 'or':
      return searchNeedsBody(key.left) || searchNeedsBody(key.right);
    case 'not':
      return searchNeedsBody(key.key);
    default:
      return false;
  }
}

/**
 * Decides from index metadata alone (flags, dates, sizes, numbers) when it
 * can: `null` means header or body keys must be looked at. Lets a server
 * skip loading summaries of messages a sequence set or flag already rules out.
 */
export function decideOnMetadata(key: SearchKey, msg: SearchMessage, ctx: SearchContext): boolean | null {
  return evalKey(key, { ...msg, summary: () => null }, ctx, null);
}

/** Decides without the message body (metadata and summary): `null` means BODY/TEXT must look at it. */
export function decideWithoutBody(key: SearchKey, msg: SearchMessage, ctx: SearchContext): boolean | null {
  return evalKey(key, msg, ctx, null);
}

/** Whether one message matches; reads the body only if metadata cannot decide. */
export async function matchesSearch(key: SearchKey, msg: SearchMessage, ctx: SearchContext): Promise<boolean> {
  const quick = evalKey(key, msg, ctx, null);
  if (quick !== null) return quick;
  return evalKey(key, msg, ctx, await msg.raw()) === true;
}

/** The messages (in the given order) that match. */
export async function searchMessages(key: SearchKey, messages: Iterable<SearchMessage>, ctx: SearchContext): Promise<SearchMessage[]> {
  const out: SearchMessage[] = [];
  for (const msg of messages) {
    if (await matchesSearch(key, msg, ctx)) out.push(msg);
  }
  return out;
}
