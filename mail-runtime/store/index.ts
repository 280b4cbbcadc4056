/**
 * Durable mailbox store of the node role (Maildir++ on shared storage).
 *
 * Public API:
 *
 *   const store = new MailStore({ root, analyze?, logger? });
 *   const user = await store.openUser('ann@example.org', { epoch, stillOwner?, quota? });
 *   const inbox = await user.openFolder('INBOX');       // this opener's handle on the shared folder, emits events
 *   await inbox.append(raw, { flags: ['\\Seen'] });      // resolves only once durable
 *   inbox.messages();                                    // metadata, no body reads
 *   await inbox.close(); await user.close(); await store.close();
 *
 * Errors are StoreError with a `code` (OVERQUOTA, NONEXISTENT, ALREADYEXISTS,
 * STALE_EPOCH, BADNAME, CANNOT, TOOBIG, IO, CORRUPT): STALE_EPOCH only when a
 * higher epoch owns the mailbox, IO for a failed syscall (the cause kept),
 * CORRUPT for a file of ours that fails its schema. See README.md in this
 * folder for the on-disk layout and the durability/fencing protocol.
 */
export { MailStore } from './mail-store';
export { StoreError, isStoreError, HIERARCHY_DELIMITER } from './types';
export type { CopyResult, FlagOperation, Folder, FolderGoneReason, FolderInfo, MessageMeta, QuotaInfo, QuotaLimits, SpecialUse, StoreErrorCode, UserMailbox } from './types';
export { decodeModifiedUtf7, encodeModifiedUtf7 } from './mutf7';
export { normalizeFolderName } from './names';
export { DELIVERY_ID_RE } from './deliveries';
export { FLAG_KEYWORD, FLAG_ODD } from './index-state';
