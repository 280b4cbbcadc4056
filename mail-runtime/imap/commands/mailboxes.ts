import { normalizeFolderName, type SpecialUse } from '../../store';
import { asAtom, untagged, type ImapValue, type ParseResult } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { mailboxId, objectIdValue } from './objectid';
import { recentRegistry } from './recent';
import { requireRights, resolveMailbox, resolveNew } from './shared';
import { AUTH_OR_SELECTED, defineCommand, noResult, okResult, type CommandResult, type ParseOptions } from './types';

function oneFolder(args: readonly ImapValue[], _cmd: unknown, opts: ParseOptions) {
  if (args.length !== 1) return fail<FolderName>('Needs exactly one mailbox name');
  return folderArg(args[0], opts);
}

/** Maps a store failure to its reply; rethrows anything else (the dispatcher logs it as SERVERBUG). */
async function attempt(fn: () => Promise<void>, done: string): Promise<CommandResult> {
  try {
    await fn();
    return okResult(done);
  } catch (err) {
    const mapped = storeErrorResult(err);
    if (mapped) return mapped;
    throw err;
  }
}

/** RFC 6154 §2 attributes a folder can be created with (the store's SpecialUse). */
const USES: ReadonlyMap<string, SpecialUse> = new Map(
  (['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged'] as const).map((u) => [u.toUpperCase(), u]),
);

interface CreateArgs {
  folder: FolderName;
  /** RFC 6154 §3 `USE (attr)`; one attribute per folder is kept. */
  use?: string;
}

/** `CREATE name [(USE (\attr ...))]` (RFC 4466 create-params, RFC 6154 §3 CREATE-SPECIAL-USE). */
function parseCreate(args: readonly ImapValue[], _cmd: unknown, opts: ParseOptions): ParseResult<CreateArgs> {
  if (args.length < 1 || args.length > 2) return fail('CREATE needs a mailbox name and optional parameters');
  const folder = folderArg(args[0], opts);
  if (!folder.ok) return folder;
  if (args.length === 1) return ok({ folder: folder.value });
  const params = args[1];
  if (params.type !== 'list' || params.items.length !== 2 || asAtom(params.items[0], true) !== 'USE' || params.items[1].type !== 'list') {
    return fail('Invalid CREATE parameters (expected (USE (attributes)))');
  }
  const uses = params.items[1].items.map((v) => asAtom(v));
  if (uses.length !== 1 || uses[0] === undefined) return fail('USE needs one special-use attribute');
  return ok({ folder: folder.value, use: uses[0] });
}

/** RFC 3501 §6.3.3 CREATE (parents are created too; a trailing delimiter is accepted), with RFC 6154 §3 USE. */
export const CREATE = defineCommand({
  name: 'CREATE',
  states: AUTH_OR_SELECTED,
  parse: parseCreate,
  async handle(ctx, { folder: f, use }) {
    if (f.store === 'INBOX') return noResult('INBOX always exists', { name: 'ALREADYEXISTS' });
    let specialUse: SpecialUse | undefined;
    if (use !== undefined) {
      specialUse = USES.get(use.toUpperCase());
      // RFC 6154 §3: an attribute we do not support is refused with USEATTR.
      if (!specialUse) return noResult(`Unsupported special-use attribute ${use.slice(0, 40)}`, { name: 'USEATTR' });
    }
    const where = await resolveNew(ctx, f.store, 'CREATE');
    if (!where.ok) return where.result;
    const { mailbox, name } = where.value;
    const res = await attempt(async () => {
      await mailbox.createFolder(name, specialUse ? { specialUse } : undefined);
      // A folder a grantee creates in a shared tree is shared like its parent (else she could not even see it).
      if (where.parent !== undefined) {
        const acl = await mailbox.getAcl(where.parent);
        for (const [id, rights] of Object.entries(acl)) await mailbox.setAcl(name, id, rights);
      }
    }, 'CREATE completed');
    if (res.status !== 'OK') return res;
    // RFC 8474 §4.1: the tagged OK of CREATE carries the new mailbox's MAILBOXID.
    const folder = await mailbox.openFolder(name);
    try {
      return okResult('CREATE completed', { name: 'MAILBOXID', args: [objectIdValue(mailboxId(folder.owner, folder.uidValidity))] });
    } finally {
      await folder.close();
    }
  },
});

/**
 * RFC 3501 §6.3.4 DELETE (INBOX cannot be deleted; children survive).
 * Deleting the selected mailbox: the tagged OK, then BYE [UNAVAILABLE] and
 * the connection ends (RFC 3501 §7.1.5), as other sessions on that mailbox
 * are told; the session never goes on in a selected state without a mailbox.
 */
export const DELETE = defineCommand({
  name: 'DELETE',
  states: AUTH_OR_SELECTED,
  parse: oneFolder,
  async handle(ctx, f) {
    if (f.store === 'INBOX') return noResult('INBOX cannot be deleted', { name: 'CANNOT' });
    // RFC 4314 §4: DELETE needs `x`.
    const target = await resolveMailbox(ctx, f.store);
    if (!target.ok) return target.result;
    const denied = requireRights(target.value.rights, 'x', 'DELETE');
    if (denied) return denied;
    const { mailbox } = target.value;
    let name = '';
    const result = await attempt(async () => {
      name = normalizeFolderName(target.value.name);
      await mailbox.deleteFolder(name);
      recentRegistry(ctx).deleted(mailbox.address, name);
    }, 'DELETE completed');
    const sel = ctx.selected?.folder;
    if (result.status !== 'OK' || sel?.name !== name || sel.owner !== mailbox.address) return result;
    // Leave the mailbox first, so no BYE for it goes out before the tagged reply.
    await ctx.unselect();
    return {
      ...result,
      after: () => {
        ctx.send(untagged('BYE', 'Selected mailbox was deleted', { name: 'UNAVAILABLE' }));
        ctx.close();
      },
    };
  },
});

/** RFC 3501 §6.3.5 RENAME (children move too; renaming INBOX moves its messages). */
export const RENAME = defineCommand({
  name: 'RENAME',
  states: AUTH_OR_SELECTED,
  parse(args, _cmd, opts) {
    if (args.length !== 2) return fail<{ from: FolderName; to: FolderName }>('RENAME needs two mailbox names');
    const from = folderArg(args[0], opts);
    if (!from.ok) return from;
    const to = folderArg(args[1], opts);
    if (!to.ok) return to;
    return ok({ from: from.value, to: to.value });
  },
  async handle(ctx, { from, to }) {
    if (to.store === 'INBOX') return noResult('INBOX already exists', { name: 'ALREADYEXISTS' });
    // RFC 4314 §4: RENAME needs `x` on the old name and `k` on the new name's parent.
    const src = await resolveMailbox(ctx, from.store);
    if (!src.ok) return src.result;
    const denied = requireRights(src.value.rights, 'x', 'RENAME');
    if (denied) return denied;
    const dst = await resolveNew(ctx, to.store, 'RENAME');
    if (!dst.ok) return dst.result;
    const mailbox = src.value.mailbox;
    if (dst.value.mailbox !== mailbox) return noResult('Cannot rename a folder into another user\'s mailbox', { name: 'CANNOT' });
    const [oldName, newName] = [src.value.name, dst.value.name];
    return attempt(async () => {
      await mailbox.renameFolder(oldName, newName);
      // The folder keeps its UIDVALIDITY, so its \Recent claims move with it. Renaming INBOX
      // moves its messages into a new folder instead (RFC 3501 §6.3.5): nothing to carry over.
      if (oldName !== 'INBOX') recentRegistry(ctx).renamed(mailbox.address, normalizeFolderName(oldName), normalizeFolderName(newName));
    }, 'RENAME completed');
  },
});

/** RFC 3501 §6.3.6 SUBSCRIBE. */
export const SUBSCRIBE = defineCommand({
  name: 'SUBSCRIBE',
  states: AUTH_OR_SELECTED,
  parse: oneFolder,
  handle: (ctx, f) => attempt(() => ctx.mailbox!.subscribe(f.store), 'SUBSCRIBE completed'),
});

/** RFC 3501 §6.3.7 UNSUBSCRIBE. */
export const UNSUBSCRIBE = defineCommand({
  name: 'UNSUBSCRIBE',
  states: AUTH_OR_SELECTED,
  parse: oneFolder,
  handle: (ctx, f) => attempt(() => ctx.mailbox!.unsubscribe(f.store), 'UNSUBSCRIBE completed'),
});
