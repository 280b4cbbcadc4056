/**
 * Message flags (RFC 3501 §2.3.2, §9 `flag`, `flag-list`).
 */
import { fail, ok, type ParseResult } from './result';
import type { ImapValue } from './values';

/** System flags a client may store, in their canonical spelling. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
const SYSTEM_BY_UPPER = new Map<string, string>(SYSTEM_FLAGS.map((f) => [f.toUpperCase(), f]));

/** RFC 3501 §9 ATOM-CHAR: no atom-specials (`(){ %*"\]` and CTL/SP) and 7-bit. */
const KEYWORD_RE = /^[\x21\x23-\x27\x2b-\x5b\x5e-\x7a\x7c\x7e]+$/;

/**
 * A storable flag in canonical form: a system flag (case-insensitive, RFC 3501
 * §2.3.2) or a keyword atom. `\Recent` and `\*` cannot be stored; other
 * backslash names are flag-extensions we do not support. Null when invalid.
 */
export function parseFlag(text: string): string | null {
  if (text.startsWith('\\')) return SYSTEM_BY_UPPER.get(text.toUpperCase()) ?? null;
  if (text.length > 255 || !KEYWORD_RE.test(text)) return null;
  return text;
}

/** True when two flags are the same (system flags and keywords compare case-insensitively, RFC 3501 §2.3.2 / Dovecot practice). */
export function sameFlag(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}

/**
 * The text of a flag item: an atom. `NIL` and digits are atoms too where
 * the grammar asks for a flag (RFC 3501 §9 `flag-keyword = atom`), though
 * the reader hands them over as nil and number. Strings are not flags.
 */
function flagText(item: ImapValue): string | undefined {
  switch (item.type) {
    case 'atom':
      return item.section || item.partial ? undefined : item.value;
    case 'nil':
      return item.raw ?? 'NIL';
    case 'number':
      return item.raw;
    default:
      return undefined;
  }
}

/**
 * A parenthesised flag list, or (for STORE, RFC 3501 §6.4.6) bare flags. An
 * empty list is allowed (STORE FLAGS () clears flags). Duplicates removed.
 */
export function parseFlagList(values: ImapValue | readonly ImapValue[]): ParseResult<string[]> {
  let items: readonly ImapValue[];
  if (Array.isArray(values)) {
    items = values.length === 1 && values[0].type === 'list' ? values[0].items : values;
  } else {
    const single = values as ImapValue;
    items = single.type === 'list' ? single.items : [single];
  }
  const out: string[] = [];
  for (const item of items) {
    const text = flagText(item);
    if (text === undefined) return fail('Invalid flag');
    const flag = parseFlag(text);
    if (flag === null) return fail(`Invalid flag ${text.slice(0, 64)}`);
    if (!out.some((f) => sameFlag(f, flag))) out.push(flag);
  }
  return ok(out);
}
