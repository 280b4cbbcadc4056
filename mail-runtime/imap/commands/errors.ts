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
  NOPERM: 'NOPERM',
};

/** The reply for a store failure, or undefined when `err` is not a StoreError (a bug: SERVERBUG). */
export function storeErrorResult(err: unknown, overrides: Partial<Record<StoreErrorCode, string>> = {}): CommandResult | undefined {
  if (!isStoreError(err)) return undefined;
  const name = overrides[err.code] ?? CODES[err.code];
  const text =
    err.code === 'STALE_EPOCH'
      ? 'Mailbox is being served elsewhere, reconnect'
      : err.code === 'OVERQUOTA'
        ? 'Quota exceeded'
        : err.message;
  return { status: 'NO', code: { name }, text };
}
