/**
 * Result of an argument parser: a value, or why not. A plain failure is a
 * syntax error (`BAD <text>`); `limit` marks well-formed input over one of
 * our implementation limits, answered `NO [LIMIT] <text>` (RFC 5530 §3);
 * `refuse` marks a well-formed command that cannot be carried out, answered
 * `NO [<refuse>] <text>` (e.g. CANNOT for a mailbox name that is an atom
 * but not modified UTF-7).
 */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly limit?: true; readonly refuse?: 'CANNOT' };

export function ok<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: string): ParseResult<T> {
  return { ok: false, error };
}
