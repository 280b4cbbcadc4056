/**
 * What SORT and THREAD (RFC 5256) and SORT=DISPLAY (RFC 5957) compare,
 * worked out once per message by the analyzer and cached with its summary,
 * so a SORT over a 100,000-message folder never parses a header again:
 * the base subject (§2.1), the sent date (§2.2), the first address of
 * From/To/Cc, display names, and the Message-ID and references used by
 * THREAD=REFERENCES (§3). Knows nothing about mailboxes.
 */
import { MISSING_DOMAIN, type EnvelopeAddress } from './address';
import { firstField, type HeaderField } from './header';
import { decodeHeaderValue } from './words';

export interface SortFields {
  /**
   * RFC 5256 §2.1 base subject in UTF-8, already mapped by i;ascii-casemap
   * (RFC 4790 §9.2: a-z as A-Z): it is only ever compared, never shown.
   */
  readonly subject: string;
  /**
   * RFC 5256 §3 (REFERENCES step 5): the extraction removed a subj-refwd,
   * a "(fwd)" trailer or a subj-fwd-hdr/subj-fwd-trl pair.
   */
  readonly replyOrForward: boolean;
  /** RFC 5256 §2.2 sent date (ms since 1970, UTC); null when Date: is missing or unparsable (INTERNALDATE is used then). */
  readonly sent: number | null;
  /** RFC 5256 §3 SORT FROM/TO/CC: the addr-mailbox of the first address, casemapped ('' when there is none). */
  readonly from: string;
  readonly to: string;
  readonly cc: string;
  /** RFC 5957 §2 DISPLAYFROM/DISPLAYTO: decoded display name, else the addr-spec; casemapped. */
  readonly displayFrom: string;
  readonly displayTo: string;
  /** RFC 5256 §3: the first valid Message ID of Message-ID:, normalised (no quoting, comments, brackets); null when none. */
  readonly messageId: string | null;
  /**
   * RFC 5256 §3: the valid Message IDs of References: in order, else the
   * first valid one of In-Reply-To:; at most MAX_REFERENCES (the last ones,
   * nearest the message).
   */
  readonly references: readonly string[];
}

/**
 * References kept per message. RFC 5256 sets no bound; a hostile message
 * could list thousands, and THREAD does a loop check per link. The last
 * ones are kept: the parent link (§3 step 1.B) uses the last reference,
 * and a truncated chain is what §3 step 1.A already expects of MUAs.
 */
export const MAX_REFERENCES = 256;

// ---------------------------------------------------------------------------
// RFC 4790 §9.2 i;ascii-casemap

/** i;ascii-casemap: ASCII a-z become A-Z, every other character stays. */
export function asciiCasemap(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/**
 * Compares two casemapped strings as their UTF-8 octets (what
 * i;ascii-casemap orders by), which is code point order: JavaScript's `<`
 * compares UTF-16 units and would put U+E000..U+FFFF after astral
 * characters. Returns <0, 0 or >0.
 */
export function compareOctets(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/** Surrogates (astral characters) rank above U+E000..U+FFFF, as in UTF-8. */
function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

// ---------------------------------------------------------------------------
// RFC 5256 §2.1 base subject

/** subj-blob = "[" *BLOBCHAR "]" *WSP (BLOBCHAR: anything but brackets; after step 1 non-ASCII text is UTF-8 and counts too). */
const BLOB = String.raw`\[[^[\]]*\] *`;
/** subj-leader's first alternative: *subj-blob subj-refwd, subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":". */
const REFWD_LEADER = new RegExp(`^(?:${BLOB})*(?:re|fwd?) *(?:${BLOB})?:`, 'i');
const BLOB_PREFIX = new RegExp(`^${BLOB}`);

/**
 * RFC 5256 §2.1, steps (1)–(7), exactly: the base subject (not yet
 * casemapped) and whether the subject marked a reply or forward (§3).
 * `raw` is the Subject field body as in the header (binary string).
 */
export function baseSubject(raw: string | null): { subject: string; replyOrForward: boolean } {
  if (raw === null) return { subject: '', replyOrForward: false };
  // (1) RFC 2047 encoded words to UTF-8; tabs and continuations to space; runs of spaces to one.
  let s = decodeHeaderValue(raw).replace(/[\t\r\n]/g, ' ').replace(/ {2,}/g, ' ');
  let replyOrForward = false;
  for (;;) {
    // (2) subj-trailer = "(fwd)" / WSP, removed from the end until none is left.
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.length >= 5 && s.slice(-5).toLowerCase() === '(fwd)') {
        s = s.slice(0, -5);
        replyOrForward = true;
      } else break;
    }
    // (5) repeat (3) and (4) until neither matches.
    for (let changed = true; changed; ) {
      changed = false;
      // (3) subj-leader = (*subj-blob subj-refwd) / WSP
      for (;;) {
        if (s.startsWith(' ')) {
          s = s.slice(1);
          changed = true;
          continue;
        }
        const m = REFWD_LEADER.exec(s);
        if (!m) break;
        s = s.slice(m[0].length);
        replyOrForward = true;
        changed = true;
      }
      // (4) a leading subj-blob, only if a non-empty subj-base remains.
      const b = BLOB_PREFIX.exec(s);
      if (b && b[0].length < s.length) {
        s = s.slice(b[0].length);
        changed = true;
      }
    }
    // (6) "[fwd:" ... "]" around the whole rest: remove both and go again from (2).
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      replyOrForward = true;
      continue;
    }
    // (7)
    return { subject: s, replyOrForward };
  }
}

// ---------------------------------------------------------------------------
// RFC 5256 §2.2 sent date: RFC 5322 §3.3 date-time, obsolete forms (§4.3) included

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
/** RFC 5322 §4.3 obs-zone; military zones other than Z "SHOULD be considered equivalent to -0000". */
const ZONES: Record<string, number> = { UT: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420 };
const DATE_RE = /^\s*(?:[a-z]+\s*,\s*)?(\d{1,2})\s*([a-z]{3})[a-z]*\s*(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2}))?\s*(?:([+-])(\d{2})(\d{2})|([a-z]{1,5}))?/i;

/** Comments (RFC 5322 §3.2.2, nested) removed. */
function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && depth > 0) i++;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

/**
 * A Date: field body as milliseconds since 1970 UTC, or null when it is not
 * a date-time (RFC 5256 §2.2 then falls back to INTERNALDATE). A missing
 * zone is read as -0000 (RFC 5322 §3.3: time in UTC, zone unknown).
 */
export function parseSentDate(raw: string | null): number | null {
  if (raw === null) return null;
  const m = DATE_RE.exec(stripComments(raw.replace(/\r?\n/g, '')));
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTHS[m[2]!.toLowerCase()];
  if (month === undefined) return null;
  let year = Number(m[3]);
  // RFC 5322 §4.3 obs-year: two digits are 1950–2049, three digits add 1900.
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 60) return null;
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  let offset = 0;
  if (m[7]) {
    const hh = Number(m[8]);
    const mm = Number(m[9]);
    if (mm > 59) return null;
    offset = (m[7] === '-' ? -1 : 1) * (hh * 60 + mm);
  } else if (m[10]) offset = ZONES[m[10].toUpperCase()] ?? 0;
  const t = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
  return Number.isFinite(t) ? t : null;
}

// ---------------------------------------------------------------------------
// RFC 5256 §3 Message IDs

/**
 * Every valid msg-id (RFC 5322 §3.6.4, obsolete forms too) in a field body,
 * normalised as RFC 5256 §3 requires so that quoting makes no difference:
 * `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>` and `<01KF8JCEOCBS0045PS@xxx.yyy.com>`
 * both give `01KF8JCEOCBS0045PS@xxx.yyy.com`. Comments, quoted phrases and
 * other words between ids (In-Reply-To's obsolete phrases) are skipped; an
 * id without "@" or with an empty side is not valid.
 */
export function parseMessageIds(raw: string | null, max = Infinity): string[] {
  const out: string[] = [];
  if (raw === null) return out;
  const s = raw;
  let i = 0;
  while (i < s.length && out.length < max) {
    const c = s[i];
    if (c === '(') {
      i = skipComment(s, i);
      continue;
    }
    if (c === '"') {
      i = skipQuoted(s, i);
      continue;
    }
    if (c !== '<') {
      i++;
      continue;
    }
    const r = readMsgId(s, i + 1);
    if (r.id !== null) out.push(r.id);
    i = r.next;
  }
  return out;
}

function skipComment(s: string, i: number): number {
  let depth = 0;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return s.length;
}

function skipQuoted(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i + 1;
  }
  return s.length;
}

/** Reads after "<" up to ">": id-left "@" id-right with quoting, comments and folding removed. */
function readMsgId(s: string, start: number): { id: string | null; next: number } {
  let left = '';
  let right = '';
  let at = false;
  let valid = true;
  let closed = false;
  let i = start;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c === '>') {
      closed = true;
      i++;
      break;
    }
    if (c === '<') return { id: null, next: i }; // a new id starts: this one was never closed
    if (c === '(') {
      i = skipComment(s, i) - 1;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
    if (c === '"') {
      // quoted-string (obsolete in id-left, RFC 5322 §4.5.4): its content without the quotes
      let j = i + 1;
      let text = '';
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length) j++;
        if (s[j] !== '\r' && s[j] !== '\n') text += s[j];
      }
      if (at) right += text;
      else left += text;
      i = j;
      continue;
    }
    if (c === '@' && !at) {
      at = true;
      continue;
    }
    if (c === '@' || c.charCodeAt(0) < 0x21) valid = false;
    if (at) right += c;
    else left += c;
  }
  if (!closed) return { id: null, next: s.length };
  if (!valid || !at || !left || !right) return { id: null, next: i };
  return { id: `${left}@${right}`, next: i };
}

// ---------------------------------------------------------------------------

function firstMailbox(list: readonly EnvelopeAddress[] | null): EnvelopeAddress | undefined {
  // Group start and end markers (host null, RFC 3501 §7.4.2) are not addresses.
  return list?.find((a) => a.host !== null);
}

/** RFC 5256 §3 SORT FROM/TO/CC: the [IMAP] addr-mailbox of the first address. */
function addrMailbox(list: readonly EnvelopeAddress[] | null): string {
  return asciiCasemap(firstMailbox(list)?.mailbox ?? '');
}

/**
 * RFC 5957 §2: the first address's display name, RFC 2047-decoded; if it
 * has none (or it is empty), its addr-spec (local-part "@" domain); ''
 * without an address.
 */
function displayName(list: readonly EnvelopeAddress[] | null): string {
  const a = firstMailbox(list);
  if (!a) return '';
  const name = a.name === null ? '' : decodeHeaderValue(a.name).trim();
  if (name) return asciiCasemap(name);
  const mailbox = a.mailbox ?? '';
  return asciiCasemap(a.host && a.host !== MISSING_DOMAIN ? `${mailbox}@${a.host}` : mailbox);
}

/** What sortFields needs of an envelope (RFC 3501 §7.4.2). */
export interface SortEnvelope {
  readonly date: string | null;
  readonly subject: string | null;
  readonly from: readonly EnvelopeAddress[] | null;
  readonly to: readonly EnvelopeAddress[] | null;
  readonly cc: readonly EnvelopeAddress[] | null;
}

/** The SORT/THREAD material of one message, from its envelope and top-level header fields. */
export function sortFields(envelope: SortEnvelope, fields: readonly HeaderField[]): SortFields {
  const { subject, replyOrForward } = baseSubject(envelope.subject);
  const ids = parseMessageIds(firstField(fields, 'Message-ID')?.value ?? null, 1);
  let references = parseMessageIds(firstField(fields, 'References')?.value ?? null);
  // RFC 5256 §3: no References (or no valid id in it): the first valid id of In-Reply-To is the only reference.
  if (references.length === 0) references = parseMessageIds(firstField(fields, 'In-Reply-To')?.value ?? null, 1);
  if (references.length > MAX_REFERENCES) references = references.slice(-MAX_REFERENCES);
  return {
    subject: asciiCasemap(subject),
    replyOrForward,
    sent: parseSentDate(envelope.date),
    from: addrMailbox(envelope.from),
    to: addrMailbox(envelope.to),
    cc: addrMailbox(envelope.cc),
    displayFrom: displayName(envelope.from),
    displayTo: displayName(envelope.to),
    messageId: ids[0] ?? null,
    references,
  };
}
