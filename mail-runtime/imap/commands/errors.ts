import { isStoreError, type StoreErrorCode } from '../../store';
import type { CommandResult } from './types';

/** Store error code → IMAP response code (RFC 5530, RFC 9208 §4.3 OVERQUOTA). */
const CODES: Record<StoreErrorCode, string> = {
  OVERQUOTA: 'OVERQUOTA',
  NONEXISTENT: 'NONEXISTENT',
  ALREADYEXISTS: 'ALREADYEXISTS',
  STALE_EPOCH: 'UNAVAILABLE',
  BADNAME: 'CANNOT',
  CANNOT: 'CANNOT',
  TOOBIG: 'TOOBIG',
  // RFC 5530 §3: "temporary failure because a subsystem is down" — the disk; the client may retry.
  IO: 'UNAVAILABLE',
  // RFC 5530 §3: "some relevant data (e.g., the mailbox) are corrupt".
  CORRUPT: 'CORRUPTION',
};

/**
 * Texts that replace the store's message, which names files on the server
 * (the store has logged it with the stack; the client learns what to do).
 */
const TEXTS: Partial<Record<StoreErrorCode, string>> = {
  STALE_EPOCH: 'Mailbox is being served elsewhere, reconnect',
  OVERQUOTA: 'Quota exceeded',
  IO: 'Mail storage is temporarily unavailable, try again later',
  CORRUPT: 'Mailbox data is damaged; please contact the administrator',
};

/** The reply for a store failure, or undefined when `err` is not a StoreError (a bug: SERVERBUG). */
export function storeErrorResult(err: unknown, overrides: Partial<Record<StoreErrorCode, string>> = {}): CommandResult | undefined {
  if (!isStoreError(err)) return undefined;
  const name = overrides[err.code] ?? CODES[err.code];
  return { status: 'NO', code: { name }, text: TEXTS[err.code] ?? err.message };
}
