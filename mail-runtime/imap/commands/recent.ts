import type { Folder } from '../../store';
import { recentRegistryFor, type RecentClaims, type RecentRegistry } from '../recent';
import type { SessionContext } from './types';

/** The `\Recent` registry of the node this session belongs to (one per mailbox provider, i.e. per store). */
export function recentRegistry(ctx: SessionContext): RecentRegistry {
  return recentRegistryFor(ctx.services.mailboxes);
}

/**
 * The claims of one of the user's folders. Looking at a folder before
 * adding messages to it (APPEND, COPY, MOVE) matters: whatever arrives after
 * the first look is unclaimed, whatever its INTERNALDATE (see ../recent.ts).
 */
export function recentClaims(ctx: SessionContext, folder: Folder): RecentClaims {
  return recentRegistry(ctx).of(folder.owner, folder);
}
