import { StoreError } from './types';

/**
 * Message flags. System flags (RFC 3501 §2.3.2) are stored with their
 * canonical spelling; keywords are atoms, compared case-insensitively
 * (RFC 3501 §2.3.2 "flag names are case-insensitive") and kept in the
 * spelling first seen. `\Recent` is a session notion left to IMAP.
 */

const SYSTEM: Record<string, string> = {
  '\\seen': '\\Seen',
  '\\answered': '\\Answered',
  '\\flagged': '\\Flagged',
  '\\deleted': '\\Deleted',
  '\\draft': '\\Draft',
};

/** Maildir info letters (cr.yp.to/proto/maildir.html), which must be written in ASCII order. */
const LETTER: Record<string, string> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};
const FROM_LETTER: Record<string, string> = Object.fromEntries(Object.entries(LETTER).map(([f, l]) => [l, f]));

/** RFC 3501 atom: no atom-specials "(){ %*"\]" nor CTL, and not too long. */
 
const ATOM = /^[^(){ %*"\\\]\u0000-\u001f\u007f-\uffff]{1,128}$/;

export const MAX_FLAGS_PER_MESSAGE = 64;

/** A keyword we can store and show (an RFC 3501 atom, not a system flag). */
export function isKeyword(f: string): boolean {
  return !f.startsWith('\\') && ATOM.test(f);
}

/** Validate and canonicalise; duplicates removed; `\Recent` dropped. Throws CANNOT. */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (typeof f !== 'string') throw new StoreError('CANNOT', 'flag is not a string');
    const lower = f.toLowerCase();
    let canon: string;
    if (lower === '\\recent') continue;
    if (f.startsWith('\\')) {
      const s = SYSTEM[lower];
      if (!s) throw new StoreError('CANNOT', `unknown system flag ${JSON.stringify(f.slice(0, 40))}`);
      canon = s;
    } else {
      if (!ATOM.test(f)) throw new StoreError('CANNOT', `invalid keyword ${JSON.stringify(f.slice(0, 40))}`);
      canon = f;
    }
    const key = canon.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(canon);
  }
  if (out.length > MAX_FLAGS_PER_MESSAGE) throw new StoreError('CANNOT', `more than ${MAX_FLAGS_PER_MESSAGE} flags`);
  return out;
}

export function applyFlags(current: readonly string[], op: 'add' | 'remove' | 'replace', flags: readonly string[]): string[] {
  if (op === 'replace') return [...flags];
  const lower = new Set(flags.map((f) => f.toLowerCase()));
  if (op === 'remove') return current.filter((f) => !lower.has(f.toLowerCase()));
  const have = new Set(current.map((f) => f.toLowerCase()));
  const out = [...current];
  for (const f of flags) if (!have.has(f.toLowerCase())) out.push(f);
  return out;
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

export function hasFlag(flags: readonly string[], flag: string): boolean {
  const l = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === l);
}

/** What maps keywords to the letters a..z of a file name (Dovecot's dovecot-keywords, see ./dovecot.ts). */
export interface KeywordLetterMap {
  letterOf(keyword: string): string | undefined;
  keywordOf(letter: string): string | undefined;
}

/**
 * `:2,<letters>` Maildir info: the system flags' letters, then the keywords'
 * letters a..z as dovecot-keywords assigns them, all in ASCII order (the
 * Maildir spec's rule, and Dovecot's). Keywords without a letter live in the
 * index only.
 */
export function maildirInfo(flags: readonly string[], keywords?: KeywordLetterMap): string {
  const letters: string[] = [];
  for (const f of flags) {
    const l = f.startsWith('\\') ? LETTER[f] : keywords?.letterOf(f);
    if (l !== undefined) letters.push(l);
  }
  return ':2,' + letters.sort().join('');
}

/** Flags from a Maildir file name (for files the index does not know): system letters, and keyword letters the map knows. */
export function flagsFromFileName(name: string, keywords?: KeywordLetterMap): string[] {
  const i = name.indexOf(':2,');
  if (i < 0) return [];
  const out: string[] = [];
  for (const ch of name.slice(i + 3)) {
    if (ch === ',') break; // another info set (Dovecot keeps those, unknown to it too)
    const f = ch >= 'a' && ch <= 'z' ? keywords?.keywordOf(ch) : FROM_LETTER[ch];
    if (f && !out.some((o) => o.toLowerCase() === f.toLowerCase())) out.push(f);
  }
  return out;
}

/** The unique part of a Maildir file name (before the `:` info). */
export function baseOfFileName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(0, i);
}
