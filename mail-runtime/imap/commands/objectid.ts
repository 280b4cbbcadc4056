import { createHash } from 'node:crypto';
import type { SortFields } from '../message';
import { atom, list, type ResponseValue } from '../protocol';

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
 * 24 hex digits. EMAILID (§5.1) is not derived: the store keeps one per
 * message in the folder index, given at delivery/APPEND and carried by
 * COPY and MOVE (mail-runtime/store/email-id.ts).
 *
 * THREADID (§5.2) is derived from the message's own header, so it never
 * changes (§5.2: immutable), survives restarts and takeovers, and is the
 * same in every folder of the user (a COPY or MOVE keeps it): the hash of
 * the thread's root as the message names it — the first Message-ID of
 * References (RFC 5322 §3.6.4: the chain starts at the thread's first
 * message), else In-Reply-To's, else the message's own Message-ID; a
 * message with none of them is a thread of its own (its EMAILID names it, so
 * a COPY or MOVE keeps that THREADID too). RFC 5256 REFERENCES
 * threading also merges by subject and repairs broken chains, which needs
 * the other messages and would change ids as mail arrives: THREADID does
 * not, so a reply whose References lost its root starts a new THREADID.
 */

function digest(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** RFC 8474 §4 MAILBOXID of a user's folder. */
export function mailboxId(address: string, uidValidity: number): string {
  return `F${digest('mailbox', address, uidValidity).slice(0, 24)}`;
}

/** RFC 8474 §5.2 THREADID of a message from its SORT/THREAD material (summary `sort`) and its EMAILID; `threadIds(address)(fields, emailId)`. */
export function threadIds(address: string): (fields: SortFields | null, emailId: string) => string {
  return (fields, emailId) => {
    const root = fields?.references[0] ?? fields?.messageId ?? `\0${emailId}`;
    return `T${digest('thread', address, root).slice(0, 24)}`;
  };
}

/** `(id)` as RFC 8474 §7 writes an objectid in responses (`"(" objectid ")"`). */
export function objectIdValue(id: string): ResponseValue {
  return list([atom(id)]);
}
