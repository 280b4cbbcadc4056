import { createHash, randomBytes } from 'node:crypto';

/**
 * RFC 8474 §5.1 EMAILID, kept in the folder index per message. A new
 * message (APPEND, delivery, a file found by the reconcile) gets a random
 * id; COPY and MOVE carry the source's id to the new UID (§5.1: the server
 * SHOULD keep it, so a client can tell a moved message from a new one); a
 * new APPEND of the same bytes is a new message with a new id.
 *
 * Indexes written before ids were stored (and `emailId`-less log records)
 * get the id earlier versions derived from (user, UIDVALIDITY, UID), so the
 * ids clients already saw do not change; it is persisted with the next
 * snapshot and stable from then on.
 */

/** objectid (RFC 8474 §7): 1–255 of ALPHA / DIGIT / "-" / "_". */
export const EMAIL_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;

/** `M` + 24 hex digits: random, so it says nothing about the message (§9). */
export function newEmailId(): string {
  return `M${randomBytes(12).toString('hex')}`;
}

/** The id earlier versions derived for a message of (user, UIDVALIDITY): `M` + 16 hex digits + the UID. */
export function legacyEmailIds(address: string, uidValidity: number): (uid: number) => string {
  const prefix = `M${createHash('sha256').update(['email', address, uidValidity].join('\0')).digest('hex').slice(0, 16)}`;
  return (uid) => `${prefix}${uid}`;
}
