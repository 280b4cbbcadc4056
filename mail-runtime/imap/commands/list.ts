import { LIMITS } from '../../common/limits';
import { sharedOwnerOf } from '../../auth';
import { HIERARCHY_DELIMITER, decodeModifiedUtf7, isStoreError, type FolderInfo, type UserMailbox } from '../../store';
import { asAstring, atom, data, list, str, type ImapResponse, type ImapValue, type ParseResult, type ResponseValue } from '../protocol';
import { fail, imapName, ok, overLimit, utf8Name } from './args';
import { compileListPattern } from './list-match';
import { parseList, TOO_LONG_PATTERN, type ListArgs } from './list-args';
import { effectiveRights } from './rights';
import { domainSharedName, isPseudoInbox, isSharedAdmin, MAX_SHARING_OWNERS, OTHER_USERS, resolveMailbox, SHARED, sharedName, splitShared, type Resolved } from './shared';
import { statusResponse } from './status';
import { AUTH_OR_SELECTED, defineCommand, okResult, parseOptions, type ParseOptions, type SessionContext } from './types';
import { CommandWork } from './work';

/** A name test that also says how much work it did (for pacing, see CommandWork). */
type NameMatcher = (name: string) => { match: boolean; cost: number };

/**
 * The canonical pattern (reference + pattern, RFC 3501 §6.3.8) as a
 * predicate (`*` anything, `%` anything but the delimiter, in linear time:
 * see list-match.ts); INBOX matches case-insensitively. Null if undecodable.
 */
function matcher(reference: string, pattern: string, opts: ParseOptions): NameMatcher | null {
  let full: string;
  if (opts.utf8Names) {
    // RFC 9051 §5.1: UTF-8 names, compared in NFC as they are stored.
    const name = utf8Name(reference + pattern);
    if (name === undefined) return null;
    full = name;
  } else {
    try {
      full = decodeModifiedUtf7(reference + pattern);
    } catch {
      return null; // RFC 5258 §3: a pattern the server does not accept is silently ignored
    }
  }
  const p = compileListPattern(full, HIERARCHY_DELIMITER);
  const inbox = /^inbox/i.test(full) ? compileListPattern(`INBOX${full.slice(5)}`, HIERARCHY_DELIMITER) : undefined;
  return (name) => {
    if (p.test(name)) return { match: true, cost: p.cost(name) };
    const tryInbox = inbox !== undefined && name.startsWith('INBOX');
    return { match: tryInbox && inbox.test(name), cost: p.cost(name) + (tryInbox ? inbox.cost(name) : 0) };
  };
}

/** A name matches the pattern list if it matches any pattern (RFC 5258 §3). */
function patternsMatcher(a: ListArgs, opts: ParseOptions): NameMatcher {
  // RFC 5258 §3: in the extended syntax an empty pattern is ignored for matching.
  const pats = a.extended ? a.patterns.filter((p) => p !== '') : a.patterns;
  const ms = pats.map((p) => matcher(a.reference, p, opts)).filter((m): m is NameMatcher => m !== null);
  return (name) => {
    let cost = 0;
    for (const m of ms) {
      const r = m(name);
      cost += r.cost;
      if (r.match) return { match: true, cost };
    }
    return { match: false, cost };
  };
}

/** Same order as the store's listFolders(): INBOX first, then by name. */
function byName(a: string, b: string): number {
  return a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

function isDescendant(name: string, of: string): boolean {
  return name.startsWith(of + HIERARCHY_DELIMITER);
}

function ancestors(name: string): string[] {
  const out: string[] = [];
  for (let i = name.lastIndexOf(HIERARCHY_DELIMITER); i > 0; i = name.lastIndexOf(HIERARCHY_DELIMITER, i - 1)) out.push(name.slice(0, i));
  return out;
}

/** One LIST answer line: the name's attributes and optional extended data (RFC 5258 §6 mailbox-list). */
interface Entry {
  name: string;
  info: FolderInfo | undefined;
  childInfo: boolean;
}

/**
 * RFC 3501 §6.3.8 LIST with the RFC 5258 extensions: selection options
 * SUBSCRIBED, REMOTE, RECURSIVEMATCH and SPECIAL-USE (RFC 6154 §5.1), several
 * patterns, return options SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS
 * (RFC 5819). `\HasChildren`/`\HasNoChildren` and special-use attributes are
 * always sent (RFC 5258 §4 and RFC 6154 §5.1 allow that without the return
 * option).
 */
async function runList(ctx: SessionContext, a: ListArgs): Promise<void> {
  const mb = ctx.mailbox!;
  // RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root (basic syntax only, RFC 5258 §3).
  if (!a.extended && a.patterns.length === 1 && a.patterns[0] === '') {
    ctx.send(data(atom('LIST'), list([atom('\\Noselect')]), str(HIERARCHY_DELIMITER), str('')));
    return;
  }
  const test = patternsMatcher(a, parseOptions(ctx));
  // Pattern work grows with names × patterns: pace it (issue 9).
  const work = new CommandWork();
  const matches = async (name: string): Promise<boolean> => {
    const r = test(name);
    if (work.due(Math.ceil(r.cost / 256))) await work.pause();
    return r.match;
  };
  const folders = await mb.listFolders();
  if (a.patterns.some((p) => reachesShared(a.reference + p))) folders.push(...(await sharedFolders(ctx)));
  const infos = new Map<string, FolderInfo>(folders.map((f) => [f.name, f]));
  const subscribed = new Set(a.ret.subscribed ? await mb.listSubscriptions() : []);
  const criteria: string[] = [];
  if (a.select.subscribed) criteria.push('SUBSCRIBED');
  if (a.select.specialUse) criteria.push('SPECIAL-USE');

  const entries: Entry[] = [];
  if (!criteria.length) {
    for (const f of folders) if (await matches(f.name)) entries.push({ name: f.name, info: f, childInfo: false });
  } else {
    // RFC 5258 §3: every selection option must hold ("selection criteria").
    const meets = (name: string): boolean => {
      const f = infos.get(name);
      if (a.select.subscribed && !subscribed.has(name)) return false;
      if (a.select.specialUse && !f?.specialUse) return false;
      return true;
    };
    const selected = [...new Set([...folders.map((f) => f.name), ...subscribed])].filter(meets);
    const names = new Set(selected);
    if (a.select.recursiveMatch) for (const n of selected) for (const p of ancestors(n)) names.add(p);
    for (const name of [...names].sort(byName)) {
      if (!(await matches(name))) continue;
      const below = a.select.recursiveMatch ? selected.filter((d) => isDescendant(d, name)) : [];
      if (!meets(name)) {
        // RFC 5258 §3.3 rule 2B, §3.5: a parent that does not meet the criteria is listed only for a
        // matching descendant the pattern does not reach (otherwise CHILDINFO would be redundant).
        let unreached = false;
        for (const d of below) if (!(await matches(d))) unreached = true;
        if (!unreached) continue;
      }
      entries.push({ name, info: infos.get(name), childInfo: below.length > 0 });
    }
  }

  for (const e of entries) {
    ctx.send(listResponse(e, a, subscribed, criteria, parseOptions(ctx)));
    if (a.ret.status && e.info && !e.info.flags.includes('\\Noselect')) await sendStatus(ctx, e.name, a.ret.status);
  }
}

function listResponse(e: Entry, a: ListArgs, subscribed: ReadonlySet<string>, criteria: readonly string[], opts: ParseOptions) {
  const attrs: string[] = [];
  if (e.info) {
    attrs.push(...e.info.flags);
    if (e.info.specialUse) attrs.push(e.info.specialUse);
  } else {
    // RFC 5258 §3: \NonExistent (implies \Noselect); such a name has no existing children
    // (the store lists every parent of an existing folder).
    attrs.push('\\NonExistent');
    if (a.ret.children) attrs.push('\\HasNoChildren');
  }
  if (a.ret.subscribed && subscribed.has(e.name)) attrs.push('\\Subscribed');
  const items: ResponseValue[] = [atom('LIST'), list(attrs.map(atom)), str(HIERARCHY_DELIMITER), str(imapName(e.name, opts))];
  // RFC 5258 §3.5 / §6 childinfo-extended-item: the criteria, always quoted.
  if (e.childInfo) items.push(list([str('CHILDINFO'), list(criteria.map((c) => str(c)))]));
  return data(...items);
}

/**
 * RFC 5819 §2: the STATUS of each listed selectable mailbox follows its LIST
 * response. A mailbox that vanished or cannot be opened meanwhile gets no
 * STATUS (the RFC lets the server drop it); LIST still completes OK.
 */
async function sendStatus(ctx: SessionContext, name: string, items: readonly string[]): Promise<void> {
  // RFC 4314 §4: STATUS needs `r`; without it the mailbox gets no STATUS here either.
  const target = await resolveMailbox(ctx, name);
  if (!target.ok || !target.value.rights.includes('r')) return;
  let folder;
  try {
    folder = await target.value.mailbox.openFolder(target.value.name);
  } catch (err) {
    if (isStoreError(err) && !isStoreError(err, 'STALE_EPOCH')) return;
    throw err;
  }
  try {
    ctx.send(statusResponse(ctx, folder, imapName(name, parseOptions(ctx)), items));
  } finally {
    await folder.close();
  }
}

export const LIST = defineCommand({
  name: 'LIST',
  states: AUTH_OR_SELECTED,
  parse: parseList,
  async handle(ctx, a) {
    await runList(ctx, a);
    return okResult('LIST completed');
  },
});

interface LsubArgs {
  reference: string;
  pattern: string;
}

/**
 * RFC 3501 §6.3.9 LSUB: subscribed names matching the pattern; a name that
 * does not exist is `\Noselect`. When the pattern ends in `%` and a
 * subscribed name lies below the level it reaches (`foo/bar` subscribed,
 * `foo` not, pattern `%`), the parent at that level is answered instead,
 * flagged `\Noselect` whether it exists or not (§6.3.9: "must return foo,
 * not foo/bar ... MUST be flagged with the \Noselect attribute"). Answers
 * come in LIST order. RFC 5258 leaves LSUB as it was.
 */
export const LSUB = defineCommand({
  name: 'LSUB',
  states: AUTH_OR_SELECTED,
  parse(args: readonly ImapValue[]): ParseResult<LsubArgs> {
    const reference = asAstring(args[0]);
    const pattern = asAstring(args[1]);
    if (args.length !== 2 || reference === undefined || pattern === undefined) return fail('LSUB needs a reference and a mailbox pattern');
    if (Buffer.byteLength(reference) > LIMITS.imapMailboxNameBytes || Buffer.byteLength(pattern) > LIMITS.imapMailboxNameBytes) return overLimit(TOO_LONG_PATTERN);
    return ok({ reference, pattern });
  },
  async handle(ctx, a) {
    const mb = ctx.mailbox!;
    const m = matcher(a.reference, a.pattern, parseOptions(ctx));
    if (!m) return okResult('LSUB completed');
    const parentsToo = (a.reference + a.pattern).endsWith('%');
    const infos = new Map<string, FolderInfo>((await mb.listFolders()).map((f) => [f.name, f]));
    const subscriptions = await mb.listSubscriptions();
    const subscribed = new Set(subscriptions);
    // Pattern work grows with names × depth: pace it (issue 9).
    const work = new CommandWork();
    const matches = async (name: string): Promise<boolean> => {
      const r = m(name);
      if (work.due(Math.ceil(r.cost / 256))) await work.pause();
      return r.match;
    };
    const answers = new Map<string, readonly string[]>();
    for (const name of subscriptions) {
      // RFC 4314 §4: a shared mailbox the user may not look up (`l`) is not listed.
      const shared = splitShared(name, mb.address.toLowerCase()) !== undefined;
      if (shared && !(await mayList(ctx, name))) continue;
      if (await matches(name)) {
        // A shared name that resolved exists (its owner's store said so); the session's own folders are in `infos`.
        const f = shared ? { flags: [] } : infos.get(name);
        answers.set(name, f ? f.flags.filter((x) => x === '\\Noselect') : ['\\Noselect']);
        continue;
      }
      if (!parentsToo) continue;
      for (const parent of ancestors(name)) {
        if (subscribed.has(parent) || answers.has(parent)) continue;
        if (await matches(parent)) answers.set(parent, ['\\Noselect']);
      }
    }
    for (const name of [...answers.keys()].sort(byName)) {
      ctx.send(data(atom('LSUB'), list(answers.get(name)!.map(atom)), str(HIERARCHY_DELIMITER), str(imapName(name, parseOptions(ctx)))));
    }
    return okResult('LSUB completed');
  },
});

/**
 * RFC 9051 §6.3.2: the LIST response SELECT/EXAMINE send to an IMAP4rev2
 * session, with the attributes LIST would show; OLDNAME (§6.3.9.7) when the
 * name the client sent was not in the normalized form we store (§5.1).
 */
export async function selectedListResponse(ctx: SessionContext, storeName: string, sent: string, where: Resolved): Promise<ImapResponse> {
  const opts = parseOptions(ctx);
  const info = (await where.mailbox.listFolders()).find((f) => f.name === where.name);
  const attrs = info ? [...info.flags, ...(info.specialUse ? [info.specialUse] : [])] : [];
  const name = imapName(storeName, opts);
  const items: ResponseValue[] = [atom('LIST'), list(attrs.map(atom)), str(HIERARCHY_DELIMITER), str(name)];
  if (sent !== name && storeName !== 'INBOX') items.push(list([str('OLDNAME'), list([str(sent)])]));
  return data(...items);
}

const SHARED_PREFIXES = [OTHER_USERS + HIERARCHY_DELIMITER, SHARED + HIERARCHY_DELIMITER];

/**
 * Whether a LIST pattern (reference + pattern, undecoded) can match a name
 * inside the Other Users or Shared namespace, so plain `LIST "" %` does not
 * look at other mailboxes' ACLs: its literal start must agree with a
 * namespace prefix, and a shorter literal must be followed by `*` or lead
 * on to a deeper level.
 */
function reachesShared(full: string): boolean {
  const w = full.search(/[*%]/);
  const literal = w < 0 ? full : full.slice(0, w);
  return SHARED_PREFIXES.some((prefix) => {
    if (literal.length >= prefix.length) return literal.startsWith(prefix);
    if (w < 0) return false;
    return prefix.startsWith(literal) && (full.includes('*') || full.slice(w).includes(HIERARCHY_DELIMITER));
  });
}

async function mayList(ctx: SessionContext, name: string): Promise<boolean> {
  const r = await resolveMailbox(ctx, name);
  return r.ok && r.value.rights.includes('l');
}

/** The selectable folders of `mb` the session user may look up (`l`, RFC 4314 §4), every one when `all`. */
async function visibleFolders(mb: UserMailbox, me: string, all: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const f of await mb.listFolders()) {
    if (f.flags.includes('\\Noselect')) continue;
    if (all) {
      out.push(f.name);
      continue;
    }
    let acl: Record<string, string>;
    try {
      acl = await mb.getAcl(f.name);
    } catch (err) {
      if (isStoreError(err, 'NONEXISTENT')) continue; // deleted meanwhile
      throw err;
    }
    if (effectiveRights(acl, me).includes('l')) out.push(f.name);
  }
  return out;
}

/**
 * The Other Users namespace (RFC 2342 §4, RFC 4314 §4): the folders other
 * users served by this node granted the session user `l` on, named
 * `Other Users/<owner>/<folder>`; and the shared namespace (§5): her
 * domain's `Shared/<folder>` she may look up (all of them for its
 * administrators), when this node serves the domain's pseudo-owner. The
 * levels above them come as `\Noselect`. Children are announced only when
 * visible, so the listing reveals no folder she may not see.
 */
async function sharedFolders(ctx: SessionContext): Promise<FolderInfo[]> {
  const provider = ctx.services.mailboxes;
  const me = ctx.user!.address.toLowerCase();
  const visible: FolderInfo[] = [];
  const show = (name: string) => visible.push({ name, subscribed: false, flags: [] });
  for (const owner of provider.sharingWith ? await provider.sharingWith(me, MAX_SHARING_OWNERS) : []) {
    const mb = await ctx.otherMailbox(owner);
    if (typeof mb === 'string') continue; // moved away meanwhile
    for (const f of await visibleFolders(mb, me, false)) show(sharedName(owner, f));
  }
  const domainShared = await ctx.otherMailbox(sharedOwnerOf(me.slice(me.lastIndexOf('@') + 1)));
  if (typeof domainShared !== 'string') for (const f of await visibleFolders(domainShared, me, isSharedAdmin(ctx))) if (!isPseudoInbox(f)) show(domainSharedName(f));
  if (!visible.length) return [];
  const names = new Set(visible.map((f) => f.name));
  const parents = new Set<string>();
  for (const f of visible) for (const p of ancestors(f.name)) if (!names.has(p)) parents.add(p);
  const all = [...names, ...parents];
  const children = (n: string) => (all.some((o) => isDescendant(o, n)) ? '\\HasChildren' : '\\HasNoChildren');
  return all.sort(byName).map((name) => ({ name, subscribed: false, flags: parents.has(name) ? ['\\Noselect', children(name)] : [children(name)] }));
}
