/**
 * The i;unicode-casemap comparator (RFC 5051), which IMAP4rev2 requires for
 * SEARCH's case-insensitive substring matching (RFC 9051 §6.4.4) and which
 * SORT uses for its string keys here.
 *
 * RFC 5051 §2: each character is replaced by its simple titlecase mapping
 * (UnicodeData.txt field 14; never a full mapping that changes the length,
 * so "ß" stays "ß" and does not become "SS"), then the string is put in
 * Unicode Normalization Form KD. Two strings are equal when their mapped
 * forms are the same octets, and one contains the other when its mapped
 * form does; ordering compares the mapped forms as UTF-8 octets.
 *
 * JavaScript has no titlecase mapping: a character's uppercase is used
 * when it is one code point (the simple mapping, which equals the simple
 * titlecase except for the characters in TITLECASE below); when the
 * uppercase is longer (a full mapping such as "ß" → "SS"), the character
 * keeps itself unless TITLECASE names its simple titlecase. So the Turkish
 * dotless "ı" maps to "I" (as "i" does) and the dotted capital "İ" to
 * "I" + U+0307 (its NFKD), exactly as RFC 5051's tables give.
 */

/** Characters whose simple titlecase differs from what their JavaScript uppercase gives (UnicodeData.txt field 14). */
const TITLECASE = new Map<number, number>([
  // Latin digraphs: the titlecase form is its own character (RFC 5051 follows UnicodeData).
  [0x01c4, 0x01c5], [0x01c5, 0x01c5], [0x01c6, 0x01c5],
  [0x01c7, 0x01c8], [0x01c8, 0x01c8], [0x01c9, 0x01c8],
  [0x01ca, 0x01cb], [0x01cb, 0x01cb], [0x01cc, 0x01cb],
  [0x01f1, 0x01f2], [0x01f2, 0x01f2], [0x01f3, 0x01f2],
  // Greek with ypogegrammeni: the full uppercase is two letters, the simple titlecase the prosgegrammeni form.
  [0x1fb3, 0x1fbc], [0x1fbc, 0x1fbc], [0x1fc3, 0x1fcc], [0x1fcc, 0x1fcc], [0x1ff3, 0x1ffc], [0x1ffc, 0x1ffc],
]);
// U+1F80..1FAF: the lower forms (x0..x7) title-case to x8..xF, which are their own titlecase.
for (const base of [0x1f80, 0x1f90, 0x1fa0]) {
  for (let i = 0; i < 8; i++) {
    TITLECASE.set(base + i, base + 8 + i);
    TITLECASE.set(base + 8 + i, base + 8 + i);
  }
}

function titlecaseChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const mapped = TITLECASE.get(cp);
  if (mapped !== undefined) return String.fromCodePoint(mapped);
  const upper = ch.toUpperCase();
  // One code point: the simple mapping. More: a full mapping, which RFC 5051 does not use.
  return upper.length === ch.length || [...upper].length === 1 ? upper : ch;
}

/** Runs of ASCII lower-case letters, or one non-ASCII character. */
const MAPPED = /[a-z]+|[^\x00-\x7f]/gu;
/** Nothing but ASCII (the common case: no per-character work, no normalization). */
const ASCII = /^[\x00-\x7f]*$/;

/** RFC 5051 §2: the string's i;unicode-casemap form (titlecase each character, then NFKD). */
export function unicodeCasemap(s: string): string {
  if (ASCII.test(s)) return s.toUpperCase();
  return s.replace(MAPPED, (m) => (m.charCodeAt(0) < 0x80 ? m.toUpperCase() : titlecaseChar(m))).normalize('NFKD');
}
