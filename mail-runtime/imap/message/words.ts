/**
 * RFC 2047 encoded words in header values (libmime), apart from the body
 * decoding in text.ts so that the analyzer's SORT fields (sort-fields.ts)
 * can use it without an import cycle.
 */
import libmime from 'libmime';
import { unfold } from './header';

/** Bytes from a binary string, read as UTF-8 when valid (RFC 6532), else as Latin-1. */
export function headerText(binary: string): string {
  const buf = Buffer.from(binary, 'latin1');
  const utf8 = buf.toString('utf8');
  return utf8.includes('\ufffd') ? binary : utf8;
}

/** One header value: unfolded and RFC 2047 decoded. */
export function decodeHeaderValue(value: string): string {
  const text = headerText(unfold(value));
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}
