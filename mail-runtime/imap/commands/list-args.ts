import { LIMITS } from '../../common/limits';
import { asAstring, asAtom, type ImapValue, type ParseResult } from '../protocol';
import { fail, ok, overLimit } from './args';
import { parseStatusItems } from './status';

/** NO [LIMIT] text for a reference or pattern over LIMITS.imapMailboxNameBytes. */
export const TOO_LONG_PATTERN = `Mailbox reference or pattern longer than ${LIMITS.imapMailboxNameBytes} octets`;

const tooLong = (s: string): boolean => Buffer.byteLength(s) > LIMITS.imapMailboxNameBytes;

/** What LIST selects (RFC 5258 §3.1, RFC 6154 §5.1). */
export interface ListSelection {
  subscribed: boolean;
  /** RFC 6154: only mailboxes with a special-use attribute. */
  specialUse: boolean;
  /** RFC 5258 §3.1: also parents of matches, with CHILDINFO. */
  recursiveMatch: boolean;
  /** RFC 5258 §3.1: remote mailboxes too; we have none, so it changes nothing. */
  remote: boolean;
}

/** What LIST returns for each name (RFC 5258 §3.2, RFC 6154 §5.1, RFC 5819). */
export interface ListReturn {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  /** RFC 5819 LIST-STATUS: STATUS items to send after each selectable mailbox. */
  status?: string[];
}

export interface ListArgs {
  reference: string;
  patterns: string[];
  /** Extended syntax in any of its three forms (RFC 5258 §3): its rules then apply (no `""` special case). */
  extended: boolean;
  select: ListSelection;
  ret: ListReturn;
}

/**
 * RFC 3501 §6.3.8 `LIST reference pattern` and the RFC 5258 §6 extended form
 * `LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)]`.
 * Unknown options are BAD (RFC 5258 §3); an option given twice counts once.
 */
export function parseList(args: readonly ImapValue[]): ParseResult<ListArgs> {
  const a: ListArgs = {
    reference: '',
    patterns: [],
    extended: false,
    select: { subscribed: false, specialUse: false, recursiveMatch: false, remote: false },
    ret: { subscribed: false, children: false, specialUse: false },
  };
  let i = 0;
  const first = args[0];
  if (first?.type === 'list') {
    a.extended = true;
    const sel = parseSelection(first.items);
    if (!sel.ok) return sel;
    a.select = sel.value;
    i = 1;
  }
  const ref = asAstring(args[i]);
  if (ref === undefined) return fail('LIST needs a reference and a mailbox pattern');
  if (tooLong(ref)) return overLimit(TOO_LONG_PATTERN);
  a.reference = ref;
  const pat = args[i + 1];
  if (pat?.type === 'list') {
    a.extended = true;
    if (!pat.items.length) return fail('Empty mailbox pattern list');
    // Every pattern is matched against every folder: bound how many (RFC 5530 LIMIT).
    if (pat.items.length > LIMITS.imapListPatterns) return overLimit(`More than ${LIMITS.imapListPatterns} mailbox patterns`);
    for (const p of pat.items) {
      const s = asAstring(p);
      if (s === undefined) return fail('Invalid mailbox pattern');
      if (tooLong(s)) return overLimit(TOO_LONG_PATTERN);
      a.patterns.push(s);
    }
  } else {
    const s = asAstring(pat);
    if (s === undefined) return fail('LIST needs a mailbox pattern');
    if (tooLong(s)) return overLimit(TOO_LONG_PATTERN);
    a.patterns.push(s);
  }
  const rest = args.slice(i + 2);
  if (rest.length) {
    if (rest.length !== 2 || asAtom(rest[0], true) !== 'RETURN' || rest[1].type !== 'list') return fail('Invalid LIST return options');
    a.extended = true;
    const ret = parseReturn(rest[1].items);
    if (!ret.ok) return ret;
    a.ret = ret.value;
  }
  // RFC 5258 §3.1: the SUBSCRIBED selection option implies the SUBSCRIBED return option.
  if (a.select.subscribed) a.ret.subscribed = true;
  return ok(a);
}

function parseSelection(items: readonly ImapValue[]): ParseResult<ListSelection> {
  const s: ListSelection = { subscribed: false, specialUse: false, recursiveMatch: false, remote: false };
  for (const item of items) {
    const name = asAtom(item, true);
    switch (name) {
      case 'SUBSCRIBED':
        s.subscribed = true;
        break;
      case 'SPECIAL-USE':
        s.specialUse = true;
        break;
      case 'RECURSIVEMATCH':
        s.recursiveMatch = true;
        break;
      case 'REMOTE':
        s.remote = true;
        break;
      default:
        return fail(`Unsupported LIST selection option ${describe(item)}`);
    }
  }
  // RFC 5258 §3.1 / §6 list-select-opts: RECURSIVEMATCH needs a base option (REMOTE is not one).
  if (s.recursiveMatch && !s.subscribed && !s.specialUse) return fail('RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE');
  return ok(s);
}

function parseReturn(items: readonly ImapValue[]): ParseResult<ListReturn> {
  const r: ListReturn = { subscribed: false, children: false, specialUse: false };
  for (let k = 0; k < items.length; k++) {
    const name = asAtom(items[k], true);
    switch (name) {
      case 'SUBSCRIBED':
        r.subscribed = true;
        break;
      case 'CHILDREN':
        r.children = true;
        break;
      case 'SPECIAL-USE':
        r.specialUse = true;
        break;
      case 'STATUS': {
        // RFC 5819 §2: STATUS SP "(" status-att *(SP status-att) ")"
        const st = parseStatusItems(items[k + 1]);
        if (!st.ok) return fail(`LIST RETURN STATUS: ${st.error}`);
        r.status = [...new Set([...(r.status ?? []), ...st.value])];
        k++;
        break;
      }
      default:
        return fail(`Unsupported LIST return option ${describe(items[k])}`);
    }
  }
  return ok(r);
}

function describe(v: ImapValue): string {
  return (asAstring(v) ?? '(list)').slice(0, 40);
}
