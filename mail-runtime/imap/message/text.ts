/**
 * Decoded text of a message for SEARCH (RFC 3501 §6.4.4 matches on the
 * decoded text): RFC 2047 encoded words in headers (libmime), and
 * Content-Transfer-Encoding (RFC 2045 §6) plus charset in bodies.
 */
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { MISSING_DOMAIN, type EnvelopeAddress } from './address';
import type { MessageSummary, MimePart } from './analyze';
import { paramValue, parseHeaderFields } from './header';
import { decodeHeaderValue, headerText } from './words';

/** Decoded values of every field named `name` (case-insensitive) in a header block (binary string). */
export function decodedHeaderValues(block: string, name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (const f of parseHeaderFields(block)) {
    if (f.value !== null && f.name.toLowerCase() === lower) out.push(decodeHeaderValue(f.value));
  }
  return out;
}

/**
 * An ENVELOPE address list as text for SEARCH FROM/TO/CC/BCC (RFC 3501
 * §6.4.4 looks at "the envelope structure's FROM field", not the raw
 * header): each address as `Name <mailbox@host>` or `mailbox@host`, display
 * names RFC 2047 decoded, without the quotes, quoted-pairs, comments and
 * folding of the header; groups as `name: member, member;`. The
 * MISSING_DOMAIN placeholder is not text of the message and is left out.
 */
export function decodedAddressText(list: readonly EnvelopeAddress[] | null): string {
  if (!list) return '';
  let text = '';
  let sep = '';
  for (const a of list) {
    if (a.host === null) {
      // RFC 3501 §7.4.2 group syntax: start (mailbox = group name) and end (mailbox NIL).
      if (a.mailbox !== null) {
        text += `${sep}${decodeHeaderValue(a.mailbox)}:`;
        sep = ' ';
      } else {
        text += ';';
        sep = ', ';
      }
      continue;
    }
    const local = headerText(a.mailbox ?? '');
    const spec = a.host === MISSING_DOMAIN ? local : `${local}@${headerText(a.host)}`;
    const route = a.adl === null ? '' : `${headerText(a.adl)}:`;
    if (a.name !== null) text += `${sep}${decodeHeaderValue(a.name)} <${route}${spec}>`;
    else text += sep + (route ? `<${route}${spec}>` : spec);
    sep = ', ';
  }
  return text;
}

/** The whole header block decoded field by field (for TEXT), one field per line. */
export function decodedHeaderBlock(block: string): string {
  return parseHeaderFields(block)
    .map((f) => (f.value === null ? headerText(f.name) : `${headerText(f.name)}: ${decodeHeaderValue(f.value)}`))
    .join('\n');
}

/**
 * RFC 2045 §6.7 quoted-printable, leniently (bad escapes pass through).
 * Escapes are read through a table, not by making a string of each: SEARCH
 * decodes whole bodies (up to the message size limit) with this.
 */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    // Soft line break: "=" CRLF or "=" LF (trailing whitespace before it tolerated).
    if (input[i + 1] === 0x0d && input[i + 2] === 0x0a) {
      i += 2;
      continue;
    }
    if (input[i + 1] === 0x0a) {
      i += 1;
      continue;
    }
    const hi = HEX[input[i + 1] ?? 0];
    const lo = HEX[input[i + 2] ?? 0];
    if (hi >= 0 && lo >= 0) {
      out[o++] = (hi << 4) | lo;
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

/** Hex digit values by octet, -1 for anything else (a table: SEARCH decodes whole 50 MB bodies with it). */
const HEX = Int8Array.from({ length: 256 }, (_, b) => {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
});

function charsetOf(part: MimePart): string {
  const cs = paramValue(part.params, 'charset');
  return cs && cs.toLowerCase() !== 'us-ascii' ? cs : 'utf-8';
}

/**
 * A body undone from its Content-Transfer-Encoding (RFC 2045 §6): base64
 * (characters outside the alphabet ignored, §6.8) and quoted-printable
 * decoded; 7bit, 8bit, binary and none as they are. Null for an encoding
 * we do not know (RFC 3516 §4.2 UNKNOWN-CTE).
 */
export function decodeTransfer(bytes: Buffer, encoding: string | null): Buffer | null {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(bytes.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') return decodeQuotedPrintable(bytes);
  if (enc === '' || enc === '7bit' || enc === '8bit' || enc === 'binary') return bytes;
  return null;
}

/** The decoded body of a leaf part as text. */
export function decodePartBody(raw: Buffer, part: MimePart): string {
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  const bytes = decodeTransfer(body, part.encoding) ?? body;
  try {
    return decodeCharset(bytes, charsetOf(part));
  } catch {
    return bytes.toString('utf8');
  }
}

function isTextual(part: MimePart): boolean {
  // text/* and the message/* types that are text (delivery-status, disposition-notification, …).
  return part.mediaType.startsWith('text/') || (part.mediaType.startsWith('message/') && !part.message) || part.mediaType === '';
}

/**
 * Decoded text pieces of the body, in order: for BODY the bodies of text
 * parts; with `withHeaders` (TEXT) also the headers of parts and
 * encapsulated messages. Non-text parts (images, …) are not searched.
 */
export function bodyTexts(raw: Buffer, summary: MessageSummary, withHeaders: boolean): string[] {
  const out: string[] = [];
  const walk = (part: MimePart, isRoot: boolean): void => {
    if (withHeaders && !isRoot) out.push(decodedHeaderBlock(raw.toString('latin1', part.headerStart, part.headerEnd)));
    if (part.parts) {
      for (const c of part.parts) walk(c, false);
    } else if (part.message) {
      walk(part.message, false);
    } else if (isTextual(part)) {
      out.push(decodePartBody(raw, part));
    }
  };
  walk(summary.root, true);
  return out;
}
