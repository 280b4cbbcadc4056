/**
 * The text SEARCH BODY and TEXT look in, case-folded once per message for
 * every key (RFC 9051 §6.4.4: a substring of the decoded text, compared
 * with the i;unicode-casemap comparator of RFC 5051, message/casemap.ts).
 *
 * The general way (`decodedSearchText`) needs the message's MIME summary:
 * each text part undone from its Content-Transfer-Encoding (RFC 2045 §6)
 * and charset, then folded. Most mail is a single text/plain part in
 * ASCII, and for it that work changes nothing: ASCII bytes read as
 * US-ASCII or UTF-8 are the same characters, and i;unicode-casemap of
 * ASCII text is its ASCII upper case (no titlecase mapping or NFKD
 * decomposition applies to it). `plainSearchText` recognises that case
 * from the top-level header alone, read as analyzeMessage reads it, and
 * folds the body bytes directly; no summary is needed. Anything else
 * (multipart, base64, quoted-printable, another charset, a non-ASCII byte)
 * is null there and takes the general way.
 */
import { isAscii } from 'node:buffer';
import { bodyTexts, decodedHeaderBlock, firstField, paramValue, parseContentType, parseEncoding, parseHeaderFields, unicodeCasemap, type MessageSummary } from '../message';

/** A message's text for one kind of key, as case-folded pieces; a key matches when one piece contains its folded string. */
export type FoldedText = readonly string[];

/** Charsets in which ASCII bytes are the ASCII characters, as the general way decodes them (text.ts charsetOf: none = US-ASCII = UTF-8). */
const ASCII_CHARSETS: ReadonlySet<string> = new Set(['us-ascii', 'utf-8']);
/** RFC 2045 §6.2: identity encodings; the body is the bytes as they are. */
const IDENTITY_ENCODINGS: ReadonlySet<string> = new Set(['7bit', '8bit', 'binary']);

/** Offset just after the empty line that ends the top-level header (RFC 5322 §2.1), or -1 when there is none. */
function headerEnd(raw: Buffer): number {
  let pos = 0;
  while (pos < raw.length) {
    if (raw[pos] === 0x0a) return pos + 1;
    if (raw[pos] === 0x0d && raw[pos + 1] === 0x0a) return pos + 2;
    const lf = raw.indexOf(0x0a, pos);
    if (lf < 0) return -1;
    pos = lf + 1;
  }
  return -1;
}

/**
 * The header's Content-* fields, whole (with their continuation lines),
 * and nothing else: what isIdentityPlainText reads, without splitting the
 * other fields (From, Subject, Received…) into objects for every message.
 * A field starts on a line that does not start with white space (RFC 5322
 * §2.2.3), as parseHeaderFields splits them, so the fields kept are parsed
 * exactly as in the whole header.
 */
function contentFields(header: string): string {
  let out = '';
  let keep = false;
  for (let pos = 0; pos < header.length; ) {
    const lf = header.indexOf('\n', pos);
    const end = lf < 0 ? header.length : lf + 1;
    const c = header.charCodeAt(pos);
    if (c === 0x0a || (c === 0x0d && header.charCodeAt(pos + 1) === 0x0a)) break; // the empty line
    if (c !== 0x20 && c !== 0x09) keep = header.slice(pos, pos + 8).toLowerCase() === 'content-';
    if (keep) out += header.slice(pos, end);
    pos = end;
  }
  return out;
}

/** Decisions by (Content-Type, Content-Transfer-Encoding) value: a folder repeats a handful of spellings. Bounded. */
const decided = new Map<string, boolean>();
const DECIDED_MAX = 256;

/**
 * Is the top-level entity described by this header a text/plain part whose
 * bytes need no decoding? The fields are read as analyzeMessage reads them
 * (the first Content-Type and Content-Transfer-Encoding field count; none
 * means text/plain in US-ASCII, RFC 2045 §5.2).
 */
function isIdentityPlainText(header: string): boolean {
  const fields = parseHeaderFields(contentFields(header));
  const ct = firstField(fields, 'Content-Type')?.value ?? null;
  const enc = firstField(fields, 'Content-Transfer-Encoding')?.value ?? null;
  const key = `${ct ?? '\u0000'}\u0000${enc ?? '\u0000'}`;
  let d = decided.get(key);
  if (d === undefined) {
    d = decide(ct, enc);
    if (decided.size < DECIDED_MAX) decided.set(key, d);
  }
  return d;
}

function decide(ctValue: string | null, encValue: string | null): boolean {
  if (ctValue !== null) {
    const ct = parseContentType(ctValue);
    if (!ct.valid || ct.type.toLowerCase() !== 'text' || ct.subtype.toLowerCase() !== 'plain') return false;
    const charset = paramValue(ct.params, 'charset');
    if (charset !== undefined && !ASCII_CHARSETS.has(charset.toLowerCase())) return false;
  }
  const encoding = encValue !== null ? parseEncoding(encValue) : null;
  return encoding === null || IDENTITY_ENCODINGS.has(encoding.toLowerCase());
}

/** Which texts a query's keys look in: BODY keys the body's text parts, TEXT keys also the headers (RFC 3501 §6.4.4). */
export interface TextKinds {
  readonly body: boolean;
  readonly text: boolean;
}

/** A message's folded texts for BODY keys (`body`) and TEXT keys (`text`); null for a kind not asked for. */
export interface FoldedTexts {
  readonly body: FoldedText | null;
  readonly text: FoldedText | null;
}

/**
 * The fast path: the folded texts of a single-part ASCII text/plain
 * message, without its summary; null when the message is anything else
 * (then use decodedSearchTexts). Gives exactly what decodedSearchTexts
 * gives for such a message.
 */
export function plainSearchTexts(raw: Buffer, kinds: TextKinds): FoldedTexts | null {
  const end = headerEnd(raw);
  if (end < 0) return null;
  // Only ASCII bytes: a non-ASCII one would need the charset to say what it is.
  if (!isAscii(raw.subarray(end))) return null;
  const header = raw.toString('latin1', 0, end);
  if (!isIdentityPlainText(header)) return null;
  // ASCII: i;unicode-casemap is the ASCII upper case (casemap.ts takes the same shortcut).
  const body = raw.toString('latin1', end).toUpperCase();
  return {
    body: kinds.body ? [body] : null,
    text: kinds.text ? [unicodeCasemap(decodedHeaderBlock(header)), body] : null,
  };
}

/** One kind the general way: every text part decoded (transfer encoding, charset) and folded; TEXT has the decoded headers first. */
function decodedSearchText(raw: Buffer, summary: MessageSummary, withHeaders: boolean): FoldedText {
  const parts = bodyTexts(raw, summary, withHeaders);
  if (withHeaders) parts.unshift(decodedHeaderBlock(summary.header));
  return parts.map(unicodeCasemap);
}

/** The general way, for any message: its text parts found through the summary's MIME structure. */
export function decodedSearchTexts(raw: Buffer, summary: MessageSummary, kinds: TextKinds): FoldedTexts {
  return {
    body: kinds.body ? decodedSearchText(raw, summary, false) : null,
    text: kinds.text ? decodedSearchText(raw, summary, true) : null,
  };
}

/** Does the folded text contain the folded string? Pieces are searched one by one, as the general way always has. */
export function textIncludes(text: FoldedText, needle: string): boolean {
  for (const piece of text) if (piece.includes(needle)) return true;
  return false;
}
