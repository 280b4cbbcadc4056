import { asAstring, atom, data, str, type ImapValue, type ParseResult, type ResponseValue } from '../protocol';
import { cannot, fail, folderArg, imapName, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { ALL_RIGHTS, ANYONE, canonicalRights, parseRights, showRights } from './rights';
import { requireRights, resolveMailbox, type Resolved } from './shared';
import { AUTH_OR_SELECTED, defineCommand, noResult, okResult, parseOptions, type CommandResult, type ParseOptions, type SessionContext } from './types';

/**
 * RFC 4314 §3 ACL commands. Identifiers are user addresses and `anyone`
 * (§2). Negative rights (`-identifier`, §2) are not implemented: SETACL and
 * DELETEACL refuse them with `NO [CANNOT]`, and no ACL ever holds one. The
 * owner of a mailbox always has every right and her entry cannot be changed
 * (§2: "the server MAY ... prevent the owner from losing administer").
 *
 * Identifiers are canonicalized through the directory before they are
 * stored (§3.1 lets the server store a canonical form; GETACL then shows
 * what is stored): an alias of one user becomes her address, an alias or
 * group naming several users is refused with `NO [CANNOT]` (an ACL entry
 * names one identity), and an address the directory does not know is
 * refused with NO (a typo would otherwise grant nobody, silently). A
 * domain's catch-all makes no address known. `anyone` is kept as it is.
 */

/** Longest identifier accepted (an address: RFC 5321 §4.5.3.1.1 local part + domain). */
const MAX_IDENTIFIER = 320;

/** An identifier argument: `anyone` or an address, lower-cased. */
function identifierArg(v: ImapValue | undefined): ParseResult<string> {
  const id = asAstring(v);
  if (id === undefined || id === '') return fail('Missing or invalid identifier');
  if (id.length > MAX_IDENTIFIER) return cannot(`Identifier longer than ${MAX_IDENTIFIER} characters`);
  if (id.startsWith('-')) return cannot('Negative rights are not supported');
  const lower = id.toLowerCase();
  if (lower === ANYONE) return ok(ANYONE);
  if (!/^[^\s@/"\\]+@[^\s@/"\\]+$/.test(lower)) return cannot('Identifier must be "anyone" or a user address');
  return ok(lower);
}

function mailboxOnly(args: readonly ImapValue[], _cmd: unknown, opts: ParseOptions): ParseResult<FolderName> {
  if (args.length !== 1) return fail('Needs exactly one mailbox name');
  return folderArg(args[0], opts);
}

function mailboxAndId(args: readonly ImapValue[], _cmd: unknown, opts: ParseOptions): ParseResult<{ folder: FolderName; id: string }> {
  if (args.length !== 2) return fail('Needs a mailbox name and an identifier');
  const folder = folderArg(args[0], opts);
  if (!folder.ok) return folder;
  const id = identifierArg(args[1]);
  if (!id.ok) return id;
  return ok({ folder: folder.value, id: id.value });
}

interface SetAclArgs {
  folder: FolderName;
  id: string;
  mode: 'set' | 'add' | 'remove';
  rights: string;
}

/** `SETACL mailbox identifier [+|-]rights` (§3.1): an unknown right letter is a BAD. */
function parseSetAcl(args: readonly ImapValue[], cmd: unknown, opts: ParseOptions): ParseResult<SetAclArgs> {
  if (args.length !== 3) return fail('SETACL needs a mailbox name, an identifier and rights');
  const base = mailboxAndId(args.slice(0, 2), cmd, opts);
  if (!base.ok) return base;
  const raw = asAstring(args[2]);
  if (raw === undefined) return fail('Missing or invalid rights');
  const mode = raw.startsWith('+') ? 'add' : raw.startsWith('-') ? 'remove' : 'set';
  const rights = parseRights(mode === 'set' ? raw : raw.slice(1));
  if (rights === undefined) return fail(`Unknown right in "${raw.slice(0, 40)}" (known: ${ALL_RIGHTS}cd)`);
  return ok({ ...base.value, mode, rights });
}

/** The mailbox, with `a` required (§3.1–§3.4: SETACL, DELETEACL, GETACL, LISTRIGHTS). */
async function administered(ctx: SessionContext, f: FolderName, what: string): Promise<{ ok: true; value: Resolved } | { ok: false; result: CommandResult }> {
  const r = await resolveMailbox(ctx, f.store);
  if (!r.ok) return r;
  const denied = requireRights(r.value.rights, 'a', what);
  return denied ? { ok: false, result: denied } : r;
}

/** Store failures (no such folder, disk) as replies. */
async function attempt(fn: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await fn();
  } catch (err) {
    const mapped = storeErrorResult(err);
    if (mapped) return mapped;
    throw err;
  }
}

/** The identifier as it is stored (module comment), or the NO it gets. */
async function canonicalIdentifier(ctx: SessionContext, id: string): Promise<{ ok: true; id: string } | { ok: false; result: CommandResult }> {
  const identify = ctx.services.mailboxes.identify;
  if (id === ANYONE || !identify) return { ok: true, id };
  let who;
  try {
    who = await identify(id);
  } catch (err) {
    // The directory (in a cluster: the hub) cannot answer now; nothing was changed, the client may retry.
    ctx.log.warn({ err, identifier: id }, 'ACL identifier could not be checked');
    return { ok: false, result: noResult(`Cannot look ${id} up in the directory now; try again later`, { name: 'UNAVAILABLE' }) };
  }
  if (who.kind === 'user') return { ok: true, id: who.address.toLowerCase() };
  if (who.kind === 'group') {
    return { ok: false, result: noResult(`${id} names ${who.targets.length} users (an alias with several targets): grant each user instead`, { name: 'CANNOT' }) };
  }
  return { ok: false, result: noResult(`No user ${id} in the directory: rights are granted to users, their single-user aliases, or "anyone"`) };
}

function isOwner(r: Resolved, id: string): boolean {
  return id === r.mailbox.address.toLowerCase();
}

/** RFC 4314 §3.1 SETACL. */
export const SETACL = defineCommand({
  name: 'SETACL',
  states: AUTH_OR_SELECTED,
  parse: parseSetAcl,
  handle: (ctx, a) =>
    attempt(async () => {
      const r = await administered(ctx, a.folder, 'SETACL');
      if (!r.ok) return r.result;
      const id = await canonicalIdentifier(ctx, a.id);
      if (!id.ok) return id.result;
      if (isOwner(r.value, id.id)) return noResult('The owner always has all rights', { name: 'CANNOT' });
      const acl = await r.value.mailbox.getAcl(r.value.name);
      const had = acl[id.id] ?? '';
      const next = a.mode === 'set' ? a.rights : a.mode === 'add' ? canonicalRights(had + a.rights) : canonicalRights([...had].filter((c) => !a.rights.includes(c)).join(''));
      await r.value.mailbox.setAcl(r.value.name, id.id, next || null);
      return okResult('SETACL completed');
    }),
});

/** RFC 4314 §3.2 DELETEACL. */
export const DELETEACL = defineCommand({
  name: 'DELETEACL',
  states: AUTH_OR_SELECTED,
  parse: mailboxAndId,
  handle: (ctx, a) =>
    attempt(async () => {
      const r = await administered(ctx, a.folder, 'DELETEACL');
      if (!r.ok) return r.result;
      // An entry stored under this exact identifier goes as it is (also one of a user who has left the directory).
      const acl = await r.value.mailbox.getAcl(r.value.name);
      let key = a.id;
      if (acl[key] === undefined) {
        const id = await canonicalIdentifier(ctx, a.id);
        if (!id.ok) return id.result;
        key = id.id;
      }
      if (isOwner(r.value, key)) return noResult('The owner always has all rights', { name: 'CANNOT' });
      await r.value.mailbox.setAcl(r.value.name, key, null);
      return okResult('DELETEACL completed');
    }),
});

/** RFC 4314 §3.3 GETACL: `* ACL mailbox (identifier rights)*`, the owner first. */
export const GETACL = defineCommand({
  name: 'GETACL',
  states: AUTH_OR_SELECTED,
  parse: mailboxOnly,
  handle: (ctx, f) =>
    attempt(async () => {
      const r = await administered(ctx, f, 'GETACL');
      if (!r.ok) return r.result;
      const acl = await r.value.mailbox.getAcl(r.value.name);
      const items: ResponseValue[] = [atom('ACL'), str(imapName(r.value.prefix + r.value.name, parseOptions(ctx))), str(r.value.mailbox.address.toLowerCase()), str(showRights(ALL_RIGHTS))];
      for (const id of Object.keys(acl).sort()) items.push(str(id), str(showRights(acl[id]!)));
      ctx.send(data(...items));
      return okResult('GETACL completed');
    }),
});

/**
 * RFC 4314 §3.4 LISTRIGHTS: the owner's rights are all required; anyone
 * else may be granted each right alone (`c` goes with `k`, whose synonym it
 * is; `d` is not a unit of its own, so it is not offered).
 */
export const LISTRIGHTS = defineCommand({
  name: 'LISTRIGHTS',
  states: AUTH_OR_SELECTED,
  parse: mailboxAndId,
  handle: (ctx, a) =>
    attempt(async () => {
      const r = await administered(ctx, a.folder, 'LISTRIGHTS');
      if (!r.ok) return r.result;
      const name = str(imapName(r.value.prefix + r.value.name, parseOptions(ctx)));
      // The owner's aliases are the owner too; an identifier the directory does not resolve is answered as written.
      const id = await canonicalIdentifier(ctx, a.id);
      const groups = isOwner(r.value, id.ok ? id.id : a.id) ? [showRights(ALL_RIGHTS)] : ['', ...[...ALL_RIGHTS].map((c) => (c === 'k' ? 'kc' : c))];
      ctx.send(data(atom('LISTRIGHTS'), name, str(a.id), ...groups.map((g) => str(g))));
      return okResult('LISTRIGHTS completed');
    }),
});

/** RFC 4314 §3.5 MYRIGHTS: any right lets a user ask (§4). */
export const MYRIGHTS = defineCommand({
  name: 'MYRIGHTS',
  states: AUTH_OR_SELECTED,
  parse: mailboxOnly,
  handle: (ctx, f) =>
    attempt(async () => {
      const r = await resolveMailbox(ctx, f.store);
      if (!r.ok) return r.result;
      // The folder must exist also for the owner (resolve only checks shared ones).
      if (r.value.own) await r.value.mailbox.getAcl(r.value.name);
      ctx.send(data(atom('MYRIGHTS'), str(imapName(r.value.prefix + r.value.name, parseOptions(ctx))), str(showRights(r.value.rights))));
      return okResult('MYRIGHTS completed');
    }),
});
