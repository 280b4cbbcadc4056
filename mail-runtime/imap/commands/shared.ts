import { isSharedOwner, sharedOwnerOf } from '../../auth';
import { HIERARCHY_DELIMITER, isStoreError, normalizeFolderName, type UserMailbox } from '../../store';
import { ALL_RIGHTS, effectiveRights, missingRights } from './rights';
import { noResult, type CommandResult, type SessionContext } from './types';

/**
 * The "Other Users" namespace (RFC 2342 §4, RFC 4314 §1): another user's
 * folder shows as `Other Users/<address>/<folder>` to a user she granted
 * rights on it. The address is the owner's canonical (lower-case) address.
 */
export const OTHER_USERS = 'Other Users';
const PREFIX = OTHER_USERS + HIERARCHY_DELIMITER;

/**
 * The shared namespace (RFC 2342; the NAMESPACE response's third part, §5): `Shared/<folder>` are the folders of
 * the session user's domain that belong to no user. They live in the
 * domain's shared pseudo-owner (auth `sharedOwnerOf`), a mailbox placed and
 * fenced like any other (DESIGN.md); `Shared/` always means the user's own
 * domain, so no name reaches another domain's shared tree.
 */
export const SHARED = 'Shared';
const SHARED_PREFIX = SHARED + HIERARCHY_DELIMITER;

/** Owners looked at when LIST shows the namespace (one domain's users served by this node). */
export const MAX_SHARING_OWNERS = 500;

/** A mailbox name resolved to the store that holds it and the session user's rights there. */
export interface Resolved {
  /** The owner's mailbox (the session's own for a personal name). */
  mailbox: UserMailbox;
  /** The folder's name in the owner's store. */
  name: string;
  /** The session user owns the folder (all rights, RFC 4314 §2). */
  own: boolean;
  /** Effective rights of the session user, letters of ALL_RIGHTS. */
  rights: string;
  /** What goes before `name` in the IMAP name (`Other Users/<owner>/` or ''). */
  prefix: string;
}

export type Resolution = { ok: true; value: Resolved } | { ok: false; result: CommandResult };

/** Where a name in a shared namespace points: the owning mailbox, the folder there, the IMAP prefix before it. */
export interface SharedName {
  address: string;
  folder: string;
  prefix: string;
  /** `Shared/` (the domain's pseudo-owner) rather than `Other Users/<address>/`. */
  domainShared: boolean;
}

/**
 * Splits `Other Users/<address>/<folder>` or `Shared/<folder>`; undefined
 * for a personal name. `folder` is '' for a namespace root or an owner
 * level (no such mailbox). `me` is the session user: `Shared/` is her
 * domain's. The folder part is checked by the store's own name rules
 * (normalizedFolder below), so `..`, empty levels (absolute paths) and
 * control characters never reach a path: they cannot escape the owner's
 * folder tree.
 */
export function splitShared(storeName: string, me: string): SharedName | undefined {
  if (storeName === SHARED || storeName.startsWith(SHARED_PREFIX)) {
    const domain = me.slice(me.lastIndexOf('@') + 1);
    return { address: sharedOwnerOf(domain), folder: storeName.slice(SHARED_PREFIX.length), prefix: SHARED_PREFIX, domainShared: true };
  }
  if (storeName !== OTHER_USERS && !storeName.startsWith(PREFIX)) return undefined;
  const rest = storeName.slice(PREFIX.length);
  const i = rest.indexOf(HIERARCHY_DELIMITER);
  const address = (i < 0 ? rest : rest.slice(0, i)).toLowerCase();
  return { address, folder: i < 0 ? '' : rest.slice(i + 1), prefix: sharedName(address, ''), domainShared: false };
}

/** The IMAP (store-form) name of a folder of the domain's shared pseudo-owner. */
export function domainSharedName(folder: string): string {
  return SHARED_PREFIX + folder;
}

/** The IMAP (store-form) name of an owner's folder in the Other Users namespace. */
export function sharedName(owner: string, folder: string): string {
  return `${PREFIX}${owner}${HIERARCHY_DELIMITER}${folder}`;
}

const nonexistent = (): Resolution => ({ ok: false, result: noResult('No such mailbox', { name: 'NONEXISTENT' }) });

/** The folder part of a shared name in the store's spelling, or the NO a malformed one gets (a well-formed command: NO, not BAD). */
function normalizedFolder(name: string): string | { ok: false; result: CommandResult } {
  try {
    return normalizeFolderName(name);
  } catch (err) {
    if (isStoreError(err, 'BADNAME')) return { ok: false, result: noResult(`Invalid mailbox name: ${err.message}`, { name: 'CANNOT' }) };
    throw err;
  }
}

/**
 * Finds the folder a name refers to and what the session user may do there.
 * A shared folder she has neither `l` nor `r` on is answered as nonexistent,
 * so nothing reveals that it exists (RFC 4314 §6). Another user's mailbox is
 * opened only on the node that serves it; on any other node the answer is
 * `NO [UNAVAILABLE]` (DESIGN.md: one node serves a mailbox).
 */
export async function resolveMailbox(ctx: SessionContext, storeName: string): Promise<Resolution> {
  const own = ctx.mailbox!;
  const shared = splitShared(storeName, own.address.toLowerCase());
  if (!shared) return { ok: true, value: { mailbox: own, name: storeName, own: true, rights: ALL_RIGHTS, prefix: '' } };
  if (!shared.folder || !shared.address.includes('@')) return nonexistent();
  // The pseudo-owner is reached only as `Shared/`, never as another user.
  if (!shared.domainShared && isSharedOwner(shared.address)) return nonexistent();
  const folder = normalizedFolder(shared.folder);
  if (typeof folder !== 'string') return folder;
  if (shared.domainShared && isPseudoInbox(folder)) return nonexistent();
  // Her own folders under the Other Users prefix are her personal folders.
  if (shared.address === own.address.toLowerCase()) return { ok: true, value: { mailbox: own, name: folder, own: true, rights: ALL_RIGHTS, prefix: shared.prefix } };
  const mb = await ctx.otherMailbox(shared.address);
  if (mb === 'unknown') return nonexistent();
  if (mb === 'elsewhere') return { ok: false, result: servedElsewhere(shared) };
  let acl: Record<string, string>;
  try {
    acl = await mb.getAcl(folder);
  } catch (err) {
    if (isStoreError(err, 'NONEXISTENT') || isStoreError(err, 'BADNAME')) return nonexistent();
    throw err;
  }
  // A domain's shared-folder administrators hold every right in its Shared/ tree (README: "Shared folders").
  const rights = shared.domainShared && isSharedAdmin(ctx) ? ALL_RIGHTS : effectiveRights(acl, ctx.user!.address);
  if (!rights.includes('l') && !rights.includes('r')) return nonexistent();
  return { ok: true, value: { mailbox: mb, name: folder, own: false, rights, prefix: shared.prefix } };
}

/**
 * The pseudo-owner's INBOX (the store gives every mailbox one) is no
 * shared folder: it never shows under `Shared/` and cannot be reached or
 * created there.
 */
export function isPseudoInbox(folder: string): boolean {
  return /^inbox(\/|$)/i.test(folder);
}

function servedElsewhere(shared: SharedName): CommandResult {
  const why = shared.domainShared
    ? `The ${SHARED}/ folders of this domain are served by another node: they work for users placed on the same node`
    : `Mailbox of ${shared.address} is served by another node: shared folders work between users placed on the same node`;
  return noResult(why, { name: 'UNAVAILABLE' });
}

/** Whether the session user administers her domain's `Shared/` tree (node config `sharedFolders.admins`). */
export function isSharedAdmin(ctx: SessionContext): boolean {
  return ctx.services.mailboxes.sharedAdmin?.(ctx.user!.address.toLowerCase()) ?? false;
}

/** `NO [NOPERM]` (RFC 5530 §3, RFC 4314 §4) when `rights` lacks any of `needed`. */
export function requireRights(rights: string, needed: string, what: string): CommandResult | undefined {
  const missing = missingRights(rights, needed);
  if (!missing) return undefined;
  return noResult(`Permission denied: ${what} needs the "${missing}" right`, { name: 'NOPERM' });
}

/**
 * Where a mailbox that does not exist yet would go (CREATE, the target of
 * RENAME). In another user's mailbox it needs `k` on its parent (RFC 4314
 * §4: "k" on the parent), so a grantee never creates top-level folders
 * there; `parent` names the parent in the owner's store (its ACL is
 * inherited, see mailboxes.ts).
 */
export async function resolveNew(ctx: SessionContext, storeName: string, what: string): Promise<Resolution & { parent?: string }> {
  const shared = splitShared(storeName, ctx.mailbox!.address.toLowerCase());
  if (!shared || shared.address === ctx.mailbox!.address.toLowerCase()) return resolveOwnNew(ctx, storeName, shared);
  const namespace = shared.domainShared ? SHARED : OTHER_USERS;
  if (!shared.folder) return { ok: false, result: noResult(`${what}: cannot create in the ${namespace} namespace itself`, { name: 'NOPERM' }) };
  if (!shared.domainShared && isSharedOwner(shared.address)) return nonexistent();
  const folder = normalizedFolder(shared.folder);
  if (typeof folder !== 'string') return folder;
  if (shared.domainShared && isPseudoInbox(folder)) return { ok: false, result: noResult(`${what}: INBOX is not a name for a ${SHARED}/ folder`, { name: 'CANNOT' }) };
  const cut = folder.lastIndexOf(HIERARCHY_DELIMITER);
  if (cut < 0) {
    // A top-level Shared/ folder is created by the domain's shared-folder administrators only.
    if (shared.domainShared && isSharedAdmin(ctx)) return topLevelShared(ctx, shared, folder);
    const whose = shared.domainShared ? `the ${SHARED} namespace (only its administrators)` : "another user's mailbox";
    return { ok: false, result: noResult(`Permission denied: ${what} of a top-level folder in ${whose}`, { name: 'NOPERM' }) };
  }
  const parent = await resolveMailbox(ctx, shared.prefix + folder.slice(0, cut));
  if (!parent.ok) return parent;
  const denied = requireRights(parent.value.rights, 'k', what);
  if (denied) return { ok: false, result: denied };
  return { ok: true, value: { ...parent.value, name: folder }, parent: parent.value.name };
}

async function topLevelShared(ctx: SessionContext, shared: SharedName, folder: string): Promise<Resolution> {
  const mb = await ctx.otherMailbox(shared.address);
  if (mb === 'unknown') return nonexistent();
  if (mb === 'elsewhere') return { ok: false, result: servedElsewhere(shared) };
  return { ok: true, value: { mailbox: mb, name: folder, own: false, rights: ALL_RIGHTS, prefix: shared.prefix } };
}

function resolveOwnNew(ctx: SessionContext, storeName: string, shared: SharedName | undefined): Resolution {
  const own = ctx.mailbox!;
  if (shared === undefined) return { ok: true, value: { mailbox: own, name: storeName, own: true, rights: ALL_RIGHTS, prefix: '' } };
  return { ok: true, value: { mailbox: own, name: shared.folder, own: true, rights: ALL_RIGHTS, prefix: shared.prefix } };
}
