/**
 * STORE arguments (RFC 3501 §6.4.6; RFC 7162 §3.1.3 UNCHANGEDSINCE).
 */
import { parseFlagList } from './flags';
import { fail, ok, type ParseResult } from './result';
import { asAtom, asBigNumber, type ImapValue } from './values';

export interface StoreRequest {
  /** FLAGS replaces, +FLAGS adds, -FLAGS removes. */
  readonly op: 'set' | 'add' | 'remove';
  /** `.SILENT`: no untagged FETCH for this session (RFC 3501 §6.4.6). */
  readonly silent: boolean;
  readonly flags: readonly string[];
  readonly unchangedSince?: bigint;
}

/** Parses everything after the sequence set: `[(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags`. */
export function parseStoreArgs(args: readonly ImapValue[]): ParseResult<StoreRequest> {
  let i = 0;
  let unchangedSince: bigint | undefined;
  const mods = args[0];
  if (mods?.type === 'list') {
    const items = mods.items;
    if (items.length !== 2 || asAtom(items[0], true) !== 'UNCHANGEDSINCE') return fail('Invalid STORE modifier');
    const n = asBigNumber(items[1]);
    if (n === undefined) return fail('UNCHANGEDSINCE needs a mod-sequence');
    unchangedSince = n;
    i = 1;
  }
  const item = asAtom(args[i], true);
  const m = item === undefined ? null : /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) return fail('STORE needs FLAGS, +FLAGS or -FLAGS');
  const rest = args.slice(i + 1);
  if (rest.length === 0) return fail('STORE needs a flag list');
  if (rest.length > 1 && rest.some((v) => v.type === 'list')) return fail('Invalid flag list');
  const flags = parseFlagList(rest);
  if (!flags.ok) return flags;
  const op = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  const req = { op, silent: m[2] !== undefined, flags: flags.value } as const;
  return ok(unchangedSince === undefined ? req : { ...req, unchangedSince });
}
