/**
 * RFC 4314 §2.1 rights. Stored and checked as the eleven standard letters;
 * the obsolete RFC 2086 `c` and `d` (§2.1.1) are accepted in SETACL and
 * reported in responses, mapped the way the second group of §2.1.1 does
 * (Cyrus): `c` is `k` (create), `d` is `x` + `t` + `e` (delete). Hence the
 * `RIGHTS=texk` capability (§2.1.1, §7).
 */
export const ALL_RIGHTS = 'lrswipkxtea';

/** The identifier every user matches (RFC 4314 §2). */
export const ANYONE = 'anyone';

/** Letters a client may send (§2.1, §2.1.1); digits and anything else are unknown. */
const ACCEPTED = /^[lrswipkxteacd]*$/;

/** In ALL_RIGHTS order, without duplicates. */
export function canonicalRights(letters: string): string {
  let out = '';
  for (const c of ALL_RIGHTS) if (letters.includes(c)) out += c;
  return out;
}

/** A client's rights string expanded to standard letters; undefined if it holds a letter we do not know (§3.1: BAD). */
export function parseRights(s: string): string | undefined {
  if (!ACCEPTED.test(s)) return undefined;
  return canonicalRights(s.replace(/c/g, 'k').replace(/d/g, 'xte'));
}

/** Rights as sent to clients: with `c` when `k` is held and `d` when any of `x t e` is (§2.1.1). */
export function showRights(rights: string): string {
  let out = canonicalRights(rights);
  if (out.includes('k')) out += 'c';
  if (/[xte]/.test(out)) out += 'd';
  return out;
}

/** Rights a user holds from an ACL: her own entry plus `anyone`'s (no negative rights, see acl.ts). */
export function effectiveRights(acl: Readonly<Record<string, string>>, address: string): string {
  return canonicalRights((acl[ANYONE] ?? '') + (acl[address.toLowerCase()] ?? ''));
}

/** The first of `needed` not in `rights` (as a string), or '' when all are held. */
export function missingRights(rights: string, needed: string): string {
  for (const c of needed) if (!rights.includes(c)) return c;
  return '';
}

/** The right a flag needs (RFC 4314 §4: `s` for \Seen, `t` for \Deleted, `w` for any other). */
export function rightForFlag(flag: string): 's' | 't' | 'w' {
  const f = flag.toLowerCase();
  return f === '\\seen' ? 's' : f === '\\deleted' ? 't' : 'w';
}

/** The flags among `flags` the rights allow setting (APPEND, COPY into a shared mailbox drop the others silently, §4). */
export function allowedFlags(flags: readonly string[], rights: string): string[] {
  return flags.filter((f) => rights.includes(rightForFlag(f)));
}
