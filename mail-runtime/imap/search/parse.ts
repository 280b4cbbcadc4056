/**
 * SEARCH criteria (RFC 3501 §6.4.4, §9 `search-key`) into an AST.
 * Also: CHARSET (RFC 3501 §6.4.4, `[BADCHARSET]` §7.1), MODSEQ (RFC 7162
 * §3.1.5), RETURN options (RFC 4731 ESEARCH) and `$` (RFC 5182).
 */
import { LIMITS } from '../../common/limits';
import {
  asAstring,
  asAtom,
  asBigNumber,
  asNumber,
  parseDate,
  parseSequenceSet,
  type CalendarDate,
  type ImapValue,
  type SequenceSet,
} from '../protocol';

export type DateComparison = 'before' | 'on' | 'since';

/** The ENVELOPE address fields SEARCH FROM/TO/CC/BCC look at (RFC 3501 §7.4.2). */
export type AddressField = 'from' | 'to' | 'cc' | 'bcc';

export type SearchKey =
  | { readonly op: 'all' }
  | { readonly op: 'and'; readonly keys: readonly SearchKey[] }
  | { readonly op: 'or'; readonly left: SearchKey; readonly right: SearchKey }
  | { readonly op: 'not'; readonly key: SearchKey }
  /** ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, KEYWORD and their UN- forms. */
  | { readonly op: 'flag'; readonly flag: string; readonly set: boolean }
  | { readonly op: 'recent'; readonly set: boolean }
  /** SUBJECT, HEADER: substring of a decoded top-level header field; '' = field present. */
  | { readonly op: 'header'; readonly field: string; readonly value: string }
  /** FROM, TO, CC, BCC: substring of the envelope's address list (RFC 3501 §6.4.4 "envelope structure's ... field"). */
  | { readonly op: 'address'; readonly field: AddressField; readonly value: string }
  | { readonly op: 'body'; readonly value: string }
  | { readonly op: 'text'; readonly value: string }
  | { readonly op: 'internaldate'; readonly cmp: DateComparison; readonly date: CalendarDate }
  | { readonly op: 'sentdate'; readonly cmp: DateComparison; readonly date: CalendarDate }
  | { readonly op: 'size'; readonly cmp: 'larger' | 'smaller'; readonly n: number }
  | { readonly op: 'seq'; readonly set: SequenceSet }
  | { readonly op: 'uid'; readonly set: SequenceSet }
  | { readonly op: 'modseq'; readonly modseq: bigint }
  /** RFC 8474 §6 EMAILID / THREADID objectid: exact match. */
  | { readonly op: 'objectid'; readonly kind: 'EMAILID' | 'THREADID'; readonly id: string };

export interface SearchQuery {
  /** Upper-cased charset name (UTF-8 when none was given: a superset of the US-ASCII default). */
  readonly charset: string;
  readonly key: SearchKey;
  /** RFC 4731 RETURN options (upper-cased), when the client asked for ESEARCH; PARTIAL's range is in `partial`. */
  readonly returnOptions?: readonly string[];
  /** RFC 5267 §4.4 RETURN (PARTIAL low:high): 1-based positions in the result, low ≤ high. */
  readonly partial?: { readonly low: number; readonly high: number };
}

/** RETURN options SEARCH takes: RFC 4731 §3.1, RFC 5182 SAVE, RFC 5267 §4 CONTEXT, UPDATE and PARTIAL. */
const SEARCH_RETURN_OPTIONS: readonly string[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'CONTEXT', 'UPDATE', 'PARTIAL'];

/** `partial-range = number ":" number` (RFC 5267 §6), each a 32-bit nz-number; either order. */
export function parsePartialRange(v: ImapValue | undefined): { low: number; high: number } | undefined {
  const m = v?.type === 'atom' ? /^([1-9]\d{0,9}):([1-9]\d{0,9})$/.exec(v.value) : null;
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a > 0xffffffff || b > 0xffffffff) return undefined;
  return { low: Math.min(a, b), high: Math.max(a, b) };
}

/** Charsets we accept, for `NO [BADCHARSET (UTF-8 US-ASCII)]` (RFC 3501 §7.1). */
export const SEARCH_CHARSETS = ['UTF-8', 'US-ASCII'] as const;

export type SearchParseResult =
  | { readonly ok: true; readonly value: SearchQuery }
  /**
   * `badCharset`: answer `NO [BADCHARSET (UTF-8 US-ASCII)]`; `limit`: well
   * formed but over one of LIMITS.imapSearch* / imapStringBytes /
   * imapSequenceSetRanges, answer `NO [LIMIT]` (RFC 5530); otherwise `BAD`.
   */
  | { readonly ok: false; readonly error: string; readonly badCharset?: boolean; readonly limit?: boolean };

class SyntaxError_ extends Error {}
/** Input over an implementation limit (NO [LIMIT]), not a syntax error. */
class LimitError_ extends Error {}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', true],
  UNDRAFT: ['\\Draft', false],
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
};

const ADDRESS_KEYS: Record<string, AddressField> = { FROM: 'from', TO: 'to', CC: 'cc', BCC: 'bcc' };
const DATE_KEYS: Record<string, ['internaldate' | 'sentdate', DateComparison]> = {
  BEFORE: ['internaldate', 'before'],
  ON: ['internaldate', 'on'],
  SINCE: ['internaldate', 'since'],
  SENTBEFORE: ['sentdate', 'before'],
  SENTON: ['sentdate', 'on'],
  SENTSINCE: ['sentdate', 'since'],
};

/** Octets of a string argument as sent (a literal's size, or the atom/quoted text in UTF-8). */
function sentBytes(v: ImapValue): number {
  if (v.type === 'string') return v.bytes.length;
  if (v.type === 'atom') return Buffer.byteLength(v.value);
  return 0;
}

function checkRanges(set: SequenceSet): SequenceSet {
  if (set.kind === 'set' && set.ranges.length > LIMITS.imapSequenceSetRanges) {
    throw new LimitError_(`Sequence set has more than ${LIMITS.imapSequenceSetRanges} ranges`);
  }
  return set;
}

class Parser {
  private i = 0;
  constructor(
    private readonly args: readonly ImapValue[],
    private readonly decode: (v: ImapValue | undefined) => string | undefined,
    /** Keys parsed so far in the whole query (shared with the parsers of parenthesised lists). */
    private readonly count: { keys: number },
  ) {}

  get done(): boolean {
    return this.i >= this.args.length;
  }

  private next(what: string): ImapValue {
    const v = this.args[this.i++];
    if (!v) throw new SyntaxError_(`${what} needs an argument`);
    return v;
  }

  private string(what: string): string {
    const v = this.next(what);
    if (sentBytes(v) > LIMITS.imapStringBytes) throw new LimitError_(`${what} string longer than ${LIMITS.imapStringBytes} octets`);
    const s = this.decode(v);
    if (s === undefined) throw new SyntaxError_(`${what} needs a string`);
    return s;
  }

  private number(what: string): number {
    const n = asNumber(this.next(what));
    // RFC 3501 §9: number is 32-bit unsigned.
    if (n === undefined || n > 0xffffffff) throw new SyntaxError_(`${what} needs a number`);
    return n;
  }

  private date(what: string): CalendarDate {
    const d = parseDate(this.next(what));
    if (!d) throw new SyntaxError_(`${what} needs a date like 1-Jan-2024`);
    return d;
  }

  keys(depth: number): SearchKey[] {
    const out: SearchKey[] = [];
    while (!this.done) out.push(this.key(depth));
    return out;
  }

  key(depth: number): SearchKey {
    if (depth > LIMITS.imapSearchDepth) throw new LimitError_(`Search criteria nested more than ${LIMITS.imapSearchDepth} deep`);
    if (++this.count.keys > LIMITS.imapSearchKeys) throw new LimitError_(`More than ${LIMITS.imapSearchKeys} search keys`);
    const v = this.next('SEARCH');
    if (v.type === 'list') {
      if (v.items.length === 0) throw new SyntaxError_('Empty parenthesised search key');
      const sub = new Parser(v.items, this.decode, this.count);
      const keys = sub.keys(depth + 1);
      return keys.length === 1 ? keys[0] : { op: 'and', keys };
    }
    const word = asAtom(v, true);
    if (word === undefined) throw new SyntaxError_('Invalid search key');
    const flag = FLAG_KEYS[word];
    if (flag) return { op: 'flag', flag: flag[0], set: flag[1] };
    const address = ADDRESS_KEYS[word];
    if (address) return { op: 'address', field: address, value: this.string(word) };
    const dateKey = DATE_KEYS[word];
    if (dateKey) return { op: dateKey[0], cmp: dateKey[1], date: this.date(word) };
    switch (word) {
      case 'ALL':
        return { op: 'all' };
      case 'SUBJECT':
        return { op: 'header', field: 'Subject', value: this.string(word) };
      case 'NEW':
        // RFC 3501 §6.4.4: NEW = RECENT UNSEEN.
        return { op: 'and', keys: [{ op: 'recent', set: true }, { op: 'flag', flag: '\\Seen', set: false }] };
      case 'OLD':
        return { op: 'recent', set: false };
      case 'RECENT':
        return { op: 'recent', set: true };
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const kw = asAtom(this.next(word));
        if (kw === undefined) throw new SyntaxError_(`${word} needs a flag keyword`);
        return { op: 'flag', flag: kw, set: word === 'KEYWORD' };
      }
      case 'HEADER': {
        const field = this.string(word);
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field)) throw new SyntaxError_('Invalid header field name');
        return { op: 'header', field, value: this.string(word) };
      }
      case 'BODY':
        return { op: 'body', value: this.string(word) };
      case 'TEXT':
        return { op: 'text', value: this.string(word) };
      case 'LARGER':
        return { op: 'size', cmp: 'larger', n: this.number(word) };
      case 'SMALLER':
        return { op: 'size', cmp: 'smaller', n: this.number(word) };
      case 'NOT':
        return { op: 'not', key: this.key(depth + 1) };
      case 'OR': {
        const left = this.key(depth + 1);
        const right = this.key(depth + 1);
        return { op: 'or', left, right };
      }
      case 'UID': {
        const set = parseSequenceSet(this.next(word));
        if (!set) throw new SyntaxError_('UID needs a sequence set');
        return { op: 'uid', set: checkRanges(set) };
      }
      case 'EMAILID':
      case 'THREADID': {
        // RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
        const id = asAtom(this.next(word));
        if (id === undefined || !/^[A-Za-z0-9_-]{1,255}$/.test(id)) throw new SyntaxError_(`${word} needs an object id`);
        return { op: 'objectid', kind: word, id };
      }
      case 'MODSEQ': {
        // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
        let n = asBigNumber(this.args[this.i]);
        if (n === undefined) {
          const entry = asAstring(this.args[this.i]);
          const type = asAtom(this.args[this.i + 1], true);
          if (entry === undefined || (type !== 'PRIV' && type !== 'SHARED' && type !== 'ALL')) throw new SyntaxError_('Invalid MODSEQ');
          this.i += 2;
          n = asBigNumber(this.args[this.i]);
        }
        if (n === undefined) throw new SyntaxError_('MODSEQ needs a mod-sequence');
        this.i++;
        return { op: 'modseq', modseq: n };
      }
      default: {
        const set = parseSequenceSet(v);
        if (set) return { op: 'seq', set: checkRanges(set) };
        throw new SyntaxError_(`Unknown search key ${word.slice(0, 40)}`);
      }
    }
  }
}

function decoderFor(_charset: string): (v: ImapValue | undefined) => string | undefined {
  return (v) => {
    if (v?.type === 'string') {
      // US-ASCII is a subset of UTF-8; 8-bit bytes in a US-ASCII search are read as UTF-8 (lenient).
      return v.bytes.toString('utf8');
    }
    return asAstring(v);
  };
}

/** Parses everything after SEARCH / UID SEARCH. */
export function parseSearch(args: readonly ImapValue[]): SearchParseResult {
  let i = 0;
  let returnOptions: string[] | undefined;
  let partial: { low: number; high: number } | undefined;
  // RFC 4731 §3: SEARCH RETURN (MIN MAX ...) criteria
  if (asAtom(args[0], true) === 'RETURN' && args[1]?.type === 'list') {
    returnOptions = [];
    const items = args[1].items;
    for (let k = 0; k < items.length; k++) {
      const name = asAtom(items[k], true);
      if (!name || !SEARCH_RETURN_OPTIONS.includes(name)) return { ok: false, error: 'Unknown RETURN option' };
      if (name === 'PARTIAL') {
        partial = parsePartialRange(items[++k]);
        if (!partial) return { ok: false, error: 'PARTIAL needs a range like 1:100' };
      }
      returnOptions.push(name);
    }
    // RFC 5267 §4.4: PARTIAL and ALL together are an error.
    if (partial && returnOptions.includes('ALL')) return { ok: false, error: 'RETURN cannot have both ALL and PARTIAL' };
    i = 2;
  }
  let charset = 'UTF-8';
  if (asAtom(args[i], true) === 'CHARSET') {
    const cs = asAstring(args[i + 1]);
    if (cs === undefined) return { ok: false, error: 'CHARSET needs a name' };
    charset = cs.toUpperCase();
    if (!(SEARCH_CHARSETS as readonly string[]).includes(charset)) {
      return { ok: false, error: `Unsupported charset ${cs.slice(0, 40)}`, badCharset: true };
    }
    i += 2;
  }
  const rest = args.slice(i);
  if (rest.length === 0) return { ok: false, error: 'SEARCH needs criteria' };
  try {
    const keys = new Parser(rest, decoderFor(charset), { keys: 0 }).keys(0);
    const key: SearchKey = keys.length === 1 ? keys[0] : { op: 'and', keys };
    if (!returnOptions) return { ok: true, value: { charset, key } };
    return { ok: true, value: partial ? { charset, key, returnOptions, partial } : { charset, key, returnOptions } };
  } catch (err) {
    if (err instanceof SyntaxError_) return { ok: false, error: err.message };
    if (err instanceof LimitError_) return { ok: false, error: err.message, limit: true };
    throw err;
  }
}
