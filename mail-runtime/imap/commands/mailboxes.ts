import { normalizeFolderName, type SpecialUse } from '../../store';
import { asAtom, untagged, type ImapValue, type ParseResult } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { mailboxId, objectIdValue } from './objectid';
import { recentRegistry } from './recent';
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
    const res = await attempt(() => ctx.mailbox!.createFolder(f.store, specialUse ? { specialUse } : undefined), 'CREATE completed');
    if (res.status !== 'OK') return res;
    // RFC 8474 §4.1: the tagged OK of CREATE carries the new mailbox's MAILBOXID.
    const folder = await ctx.mailbox!.openFolder(f.store);
    try {
      return okResult('CREATE completed', { name: 'MAILBOXID', args: [objectIdValue(mailboxId(ctx.mailbox!.address, folder.uidValidity))] });
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
    const name = normalizeFolderName(f.store);
    const result = await attempt(async () => {
      await ctx.mailbox!.deleteFolder(f.store);
      recentRegistry(ctx).deleted(ctx.mailbox!.address, name);
    }, 'DELETE completed');
    if (result.status !== 'OK' || ctx.selected?.folder.name !== name) return result;
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
    return attempt(async () => {
      await ctx.mailbox!.renameFolder(from.store, to.store);
      // The folder keeps its UIDVALIDITY, so its \Recent claims move with it. Renaming INBOX
      // moves its messages into a new folder instead (RFC 3501 §6.3.5): nothing to carry over.
      if (from.store !== 'INBOX') recentRegistry(ctx).renamed(ctx.mailbox!.address, normalizeFolderName(from.store), normalizeFolderName(to.store));
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
