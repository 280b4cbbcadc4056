/**
 * The values a client command is made of (RFC 3501 §4 data formats), as the
 * command reader hands them to handlers. Nothing here knows about mailboxes.
 */

/** An atom (RFC 3501 §4.1). Also carries flags (`\Seen`), sequence sets (`1:*`) and FETCH section atoms. */
export interface AtomValue {
  readonly type: 'atom';
  /** The atom text exactly as sent (case preserved). */
  readonly value: string;
  /**
   * Only for `BODY[...]`, `BODY.PEEK[...]`, `BINARY[...]`, `BINARY.PEEK[...]`,
   * `BINARY.SIZE[...]` (RFC 3501 §6.4.5, RFC 3516): the tokens between the
   * brackets, e.g. `HEADER.FIELDS (FROM TO)` → [atom, list].
   */
  readonly section?: readonly ImapValue[];
  /** `<offset.length>` after a section (RFC 3501 §6.4.5); `length` absent for `<offset>`. */
  readonly partial?: { readonly offset: number; readonly length?: number };
}

/** A number (RFC 3501 §4.2): only a plain run of digits that fits a safe integer. */
export interface NumberValue {
  readonly type: 'number';
  readonly value: number;
  /** The digits as sent (kept for astring use, e.g. a password `0123`). */
  readonly raw: string;
}

/** A string (RFC 3501 §4.3): quoted or literal. Bytes are kept exactly. */
export interface StringValue {
  readonly type: 'string';
  readonly bytes: Buffer;
  /** How it arrived: quoted, `{n}`, `{n+}` (RFC 7888) or `~{n}` (literal8, RFC 3516). */
  readonly form: 'quoted' | 'literal' | 'literal8';
}

/** NIL (RFC 3501 §4.5). Note: an astring `NIL` arrives as this; use `asAstring` to get "NIL" back. */
export interface NilValue {
  readonly type: 'nil';
  /**
   * The atom as sent (`NIL`, `nil`, ...): where the grammar wants an atom,
   * not nil, it is that atom (RFC 3501 §9 `flag-keyword = atom`).
   */
  readonly raw?: string;
}

/** Parenthesised list (RFC 3501 §4.4). */
export interface ListValue {
  readonly type: 'list';
  readonly items: readonly ImapValue[];
}

export type ImapValue = AtomValue | NumberValue | StringValue | NilValue | ListValue;

/** One complete client command. `UID FETCH ...` gives `{ name: 'FETCH', uid: true }`. */
export interface ImapCommand {
  readonly tag: string;
  /** Upper-cased command name (without `UID`). */
  readonly name: string;
  readonly uid: boolean;
  readonly args: readonly ImapValue[];
}

/** A protocol error: the caller answers `<tag> BAD <text>` (or `NO [TOOBIG]`), or `* BAD` if tag is null. */
export interface ImapParseError {
  readonly tag: string | null;
  readonly text: string;
  /** `TOOBIG`: a literal over the size cap (RFC 7889 / RFC 4469); `LINE`: line over the cap; `PARSE`: syntax. */
  readonly code: 'PARSE' | 'TOOBIG' | 'LIMIT' | 'LINE';
  /** The connection cannot be resynchronised (e.g. an oversized non-synchronising literal): send BYE and close. */
  readonly fatal: boolean;
  /**
   * The refused literal was non-synchronising (`{n+}`): its bytes were sent
   * without our consent, so the command is answered `BAD [TOOBIG]` (RFC 7888
   * §5), while a refused synchronising one gets `NO [TOOBIG]` (RFC 7889).
   */
  readonly nonSync?: boolean;
}

/** Text of a string/atom/number, or undefined. Literal bytes are read as UTF-8. */
export function asString(v: ImapValue | undefined): string | undefined {
  if (!v) return undefined;
  if (v.type === 'string') return v.bytes.toString('utf8');
  return undefined;
}

/**
 * RFC 3501 §9 `astring = 1*ASTRING-CHAR / string`: an atom, a number or a
 * string. `NIL` sent as an atom is the text "NIL" here (it is a valid astring).
 */
export function asAstring(v: ImapValue | undefined): string | undefined {
  if (!v) return undefined;
  switch (v.type) {
    case 'string':
      return v.bytes.toString('utf8');
    case 'atom':
      return v.section || v.partial ? undefined : v.value;
    case 'number':
      return v.raw;
    case 'nil':
      return 'NIL';
    default:
      return undefined;
  }
}

/** RFC 3501 §9 `nstring = string / nil`: null for NIL. */
export function asNString(v: ImapValue | undefined): string | null | undefined {
  if (v?.type === 'nil') return null;
  return asString(v);
}

/** An atom's text (upper-cased when `upper`), or undefined if `v` is not a plain atom. */
export function asAtom(v: ImapValue | undefined, upper = false): string | undefined {
  if (!v) return undefined;
  let s: string | undefined;
  if (v.type === 'atom' && !v.section && !v.partial) s = v.value;
  else if (v.type === 'number') s = v.raw;
  else if (v.type === 'nil') s = 'NIL';
  if (s === undefined) return undefined;
  return upper ? s.toUpperCase() : s;
}

/** A non-negative integer from a number value (or a digit atom for 64-bit mod-sequences). */
export function asNumber(v: ImapValue | undefined): number | undefined {
  if (v?.type === 'number') return v.value;
  return undefined;
}

/** RFC 7162 mod-sequence values are 63-bit: accept a digits atom too, returned as bigint. */
export function asBigNumber(v: ImapValue | undefined): bigint | undefined {
  if (v?.type === 'number') return BigInt(v.value);
  if (v?.type === 'atom' && !v.section && /^[0-9]{1,19}$/.test(v.value)) {
    const n = BigInt(v.value);
    return n <= 0x7fffffffffffffffn ? n : undefined;
  }
  return undefined;
}
