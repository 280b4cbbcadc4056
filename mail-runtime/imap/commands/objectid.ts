import { createHash } from 'node:crypto';
import { atom, list, NIL, type ResponseValue } from '../protocol';

/**
 * RFC 8474 object identifiers, derived rather than stored.
 *
 * A folder's UIDVALIDITY never changes while the folder exists: RENAME
 * moves its index with it (RFC 8474 §4.3 wants the MAILBOXID kept across
 * RENAME), a restart or a takeover reads it back from shared storage
 * (§4.1: stable across restarts), and DELETE + CREATE of the same name
 * gives a new one (a new mailbox, a new id). Within one user's mailbox the
 * store hands out UIDVALIDITYs that increase, so (user, UIDVALIDITY) names
 * one folder. A message is (folder, UID), which never changes either.
 *
 * The ids are hashes (§9: an identifier must not leak what it is made of
 * to whoever sees it, e.g. the folder's creation time): MAILBOXID `F` +
 * 24 hex digits; EMAILID `M` + the folder's 16 hex digits + the UID in
 * decimal, so SEARCH EMAILID needs no table (one hash per command, then a
 * string per message). A COPY gets a new EMAILID: §5.1 only says SHOULD
 * keep it. THREADID is NIL (§5.2 allows it for a server without thread
 * ids), so SEARCH THREADID matches nothing.
 */

function digest(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** RFC 8474 §4 MAILBOXID of a user's folder. */
export function mailboxId(address: string, uidValidity: number): string {
  return `F${digest('mailbox', address, uidValidity).slice(0, 24)}`;
}

/** RFC 8474 §5.1 EMAILID of each message of one folder: `emailIds(...)(uid)`. */
export function emailIds(address: string, uidValidity: number): (uid: number) => string {
  const prefix = `M${digest('email', address, uidValidity).slice(0, 16)}`;
  return (uid) => `${prefix}${uid}`;
}

/** `(id)` as RFC 8474 §7 writes an objectid in responses (`"(" objectid ")"`). */
export function objectIdValue(id: string): ResponseValue {
  return list([atom(id)]);
}

/** RFC 8474 §5.2: `THREADID NIL` — we assign no thread ids. */
export const NO_THREAD_ID: ResponseValue = NIL;
