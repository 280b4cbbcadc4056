import { HIERARCHY_DELIMITER, decodeModifiedUtf7, type FolderInfo } from '../../store';
import { asAstring, asAtom, atom, data, list, str, type ImapValue, type ParseResult } from '../protocol';
import { fail, imapName, ok } from './args';
import { AUTH_OR_SELECTED, defineCommand, okResult, type SessionContext } from './types';

interface ListArgs {
  reference: string;
  patterns: string[];
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  returnSubscribed: boolean;
  /** Extended syntax used (RFC 5258): then children info etc. follow its rules. */
  extended: boolean;
}

const SELECT_OPTS = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
const RETURN_OPTS = new Set(['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE']);

/**
 * RFC 3501 §6.3.8 `LIST reference pattern`, plus the RFC 5258 extended form
 * `LIST (selection) reference (patterns) RETURN (options)` for the options
 * RFC 6154 needs (SPECIAL-USE) and SUBSCRIBED.
 */
function parseList(args: readonly ImapValue[]): ParseResult<ListArgs> {
  let i = 0;
  const a: ListArgs = {
    reference: '',
    patterns: [],
    selectSubscribed: false,
    selectSpecialUse: false,
    returnSubscribed: false,
    extended: false,
  };
  const first = args[0];
  if (first?.type === 'list') {
    a.extended = true;
    for (const o of first.items) {
      const name = asAtom(o, true);
      if (!name || !SELECT_OPTS.has(name)) return fail('Unsupported LIST selection option');
      if (name === 'SUBSCRIBED') a.selectSubscribed = true;
      if (name === 'SPECIAL-USE') a.selectSpecialUse = true;
    }
    i = 1;
  }
  const ref = asAstring(args[i]);
  if (ref === undefined) return fail('LIST needs a reference and a mailbox pattern');
  a.reference = ref;
  const pat = args[i + 1];
  if (pat?.type === 'list') {
    a.extended = true;
    for (const p of pat.items) {
      const s = asAstring(p);
      if (s === undefined) return fail('Invalid mailbox pattern');
      a.patterns.push(s);
    }
    if (!a.patterns.length) return fail('Empty pattern list');
  } else {
    const s = asAstring(pat);
    if (s === undefined) return fail('LIST needs a mailbox pattern');
    a.patterns.push(s);
  }
  let j = i + 2;
  if (j < args.length) {
    if (asAtom(args[j], true) !== 'RETURN' || args[j + 1]?.type !== 'list' || j + 2 !== args.length) {
      return fail('Invalid LIST return options');
    }
    a.extended = true;
    for (const o of (args[j + 1] as { items: readonly ImapValue[] }).items) {
      const name = asAtom(o, true);
      if (!name || !RETURN_OPTS.has(name)) return fail('Unsupported LIST return option');
      if (name === 'SUBSCRIBED') a.returnSubscribed = true;
    }
    j += 2;
  }
  return ok(a);
}

/** `*` matches anything, `%` anything but the delimiter (RFC 3501 §6.3.8). INBOX matches case-insensitively. */
export function patternToRegExp(pattern: string): RegExp {
  let src = '';
  for (const ch of pattern) {
    if (ch === '*') src += '.*';
    else if (ch === '%') src += `[^${HIERARCHY_DELIMITER}]*`;
    else src += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, 's');
}

function matcher(reference: string, pattern: string): ((name: string) => boolean) | null {
  let full: string;
  try {
    full = decodeModifiedUtf7(reference + pattern);
  } catch {
    return null; // undecodable pattern matches nothing
  }
  const re = patternToRegExp(full);
  const inboxRe = /^inbox/i.test(full) ? patternToRegExp(`INBOX${full.slice(5)}`) : undefined;
  return (name) => re.test(name) || (name.startsWith('INBOX') && inboxRe !== undefined && inboxRe.test(name));
}

async function runList(ctx: SessionContext, a: ListArgs, kind: 'LIST' | 'LSUB'): Promise<void> {
  const mb = ctx.mailbox!;
  // RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root.
  if (kind === 'LIST' && a.patterns.length === 1 && a.patterns[0] === '') {
    ctx.send(data(atom('LIST'), list([atom('\\Noselect')]), str(HIERARCHY_DELIMITER), str('')));
    return;
  }
  const matchers = a.patterns.map((p) => matcher(a.reference, p)).filter((m): m is (n: string) => boolean => m !== null);
  const matches = (name: string): boolean => matchers.some((m) => m(name));
  const folders = await mb.listFolders();
  const needSubs = kind === 'LSUB' || a.selectSubscribed || a.returnSubscribed;
  const subscribed = new Set(needSubs ? await mb.listSubscriptions() : []);
  const byName = new Map<string, FolderInfo>(folders.map((f) => [f.name, f]));

  if (kind === 'LSUB') {
    for (const name of subscribed) {
      if (!matches(name)) continue;
      const f = byName.get(name);
      const attrs = f ? f.flags.filter((x) => x === '\\Noselect') : ['\\Noselect'];
      ctx.send(data(atom('LSUB'), list(attrs.map(atom)), str(HIERARCHY_DELIMITER), str(imapName(name))));
    }
    return;
  }

  const emit = (name: string, f: FolderInfo | undefined): void => {
    const attrs: string[] = f ? [...f.flags] : ['\\NonExistent'];
    if (f?.specialUse) attrs.push(f.specialUse);
    if ((a.selectSubscribed || a.returnSubscribed) && subscribed.has(name)) attrs.push('\\Subscribed');
    ctx.send(data(atom('LIST'), list(attrs.map(atom)), str(HIERARCHY_DELIMITER), str(imapName(name))));
  };

  if (a.selectSubscribed) {
    // RFC 5258 §3.1: subscribed names, existing or not.
    for (const name of subscribed) {
      const f = byName.get(name);
      if (a.selectSpecialUse && !f?.specialUse) continue;
      if (matches(name)) emit(name, f);
    }
    return;
  }
  for (const f of folders) {
    if (a.selectSpecialUse && !f.specialUse) continue;
    if (matches(f.name)) emit(f.name, f);
  }
}

export const LIST = defineCommand({
  name: 'LIST',
  states: AUTH_OR_SELECTED,
  parse: parseList,
  async handle(ctx, a) {
    await runList(ctx, a, 'LIST');
    return okResult('LIST completed');
  },
});

/** RFC 3501 §6.3.9 LSUB (basic syntax only). */
export const LSUB = defineCommand({
  name: 'LSUB',
  states: AUTH_OR_SELECTED,
  parse(args) {
    if (args.length !== 2) return fail<ListArgs>('LSUB needs a reference and a mailbox pattern');
    const r = parseList(args);
    if (r.ok && r.value.extended) return fail<ListArgs>('LSUB takes no options');
    return r;
  },
  async handle(ctx, a) {
    await runList(ctx, a, 'LSUB');
    return okResult('LSUB completed');
  },
});
