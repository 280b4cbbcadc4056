import { createHash } from 'node:crypto';
import type { Folder } from '../../store';
import { sortFieldsOf, unicodeCasemap, type SortFields } from '../message';
import { atom, list, type ResponseValue } from '../protocol';
import type { CommandWork } from './work';

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
 * keep it.
 *
 * THREADID (§5.2) is derived from the message's own header, so it
 * survives restarts and takeovers and is the same in every folder of the
 * user (a COPY or MOVE keeps it): the hash of the thread's root as the
 * message names it — the first Message-ID of References (RFC 5322
 * §3.6.4: the chain starts at the thread's first message), else
 * In-Reply-To's. A message with neither joins by subject, as
 * THREAD=REFERENCES does (RFC 5256 §3 step 5, base subject of §2.1
 * compared under i;unicode-casemap as THREAD does, RFC 5255 §4.2): its
 * root is that of the first message (lowest UID) of the folder with the
 * same non-empty base subject and no references, itself when it is that
 * message — so "Re: x" sent without References gets the thread of "x".
 * The first such message is read from the folder (subjectRoots below), so
 * every session and every restart derives the same id; new mail never
 * changes it (a later message has a higher UID). What REFERENCES also
 * does and THREADID does not: repairing a chain whose root is missing (a
 * reply whose References lost its root starts its own THREADID), and
 * regrouping when the first message of a subject is expunged (the next
 * one then roots it).
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

/** A message's own idea of its thread root: the first reference, else its Message-ID, else (no ids at all) its EMAILID. */
function ownRoot(fields: SortFields | null, uid: number, emailIdOf: (uid: number) => string): string {
  return fields?.references[0] ?? fields?.messageId ?? `\0${emailIdOf(uid)}`;
}

/** The key a message without references joins a thread by: its base subject under i;unicode-casemap; undefined when it has references or an empty subject (RFC 5256 §3 step 5 skips those). */
function subjectKey(fields: SortFields | null): string | undefined {
  if (!fields || fields.references.length > 0 || fields.subject === '') return undefined;
  return unicodeCasemap(fields.subject);
}

/** For a message without references: the thread root of the folder's first message with its base subject (subjectRoots). */
export type SubjectRoots = (fields: SortFields | null) => string | undefined;

/** Does this message's THREADID depend on the folder's other messages (SubjectRoots)? */
export function needsSubjectRoot(fields: SortFields | null): boolean {
  return subjectKey(fields) !== undefined;
}

interface RootsMemo {
  uidValidity: number;
  /** Messages up to this UID are in `roots`. */
  scannedTo: number;
  /** Base subject → the first (lowest-UID) message without references that has it, and its root. */
  roots: Map<string, { uid: number; root: string }>;
  building?: Promise<void>;
}

/** One memo per open folder handle: later calls read only the messages that arrived since. */
const memos = new WeakMap<Folder, RootsMemo>();
/** Summaries read at once while scanning. */
const ROOTS_BATCH = 500;

/**
 * The folder's subject roots for THREADID (see the top of this file),
 * kept per folder handle and brought up to date on each call: new mail
 * is scanned once, and an expunged first message makes the folder be
 * scanned again (the next message of its subject roots it then).
 */
export async function subjectRoots(address: string, folder: Folder, work: CommandWork): Promise<SubjectRoots> {
  let memo = memos.get(folder);
  if (memo?.building) await memo.building;
  memo = memos.get(folder);
  const emailIdOf = emailIds(address, folder.uidValidity);
  const stale = !memo || memo.uidValidity !== folder.uidValidity || [...memo.roots.values()].some((r) => folder.get(r.uid) === undefined);
  if (!memo || stale) {
    memo = { uidValidity: folder.uidValidity, scannedTo: 0, roots: new Map() };
    memos.set(folder, memo);
  }
  const m = memo;
  const fresh = folder.messages().filter((meta) => meta.uid > m.scannedTo);
  if (fresh.length) {
    m.building = (async () => {
      for (let i = 0; i < fresh.length; i += ROOTS_BATCH) {
        const batch = fresh.slice(i, i + ROOTS_BATCH).map((meta) => meta.uid);
        const summaries = await folder.getSummaries(batch);
        for (const uid of batch) {
          const fields = sortFieldsOf(summaries.get(uid));
          const key = subjectKey(fields);
          if (key !== undefined && !m.roots.has(key)) m.roots.set(key, { uid, root: ownRoot(fields, uid, emailIdOf) });
          if (work.due()) await work.pause();
        }
        m.scannedTo = Math.max(m.scannedTo, batch[batch.length - 1]);
      }
    })();
    try {
      await m.building;
    } finally {
      m.building = undefined;
    }
  }
  return (fields) => {
    const key = subjectKey(fields);
    return key === undefined ? undefined : m.roots.get(key)?.root;
  };
}

/**
 * RFC 8474 §5.2 THREADID of a message from its SORT/THREAD material
 * (summary `sort`): `threadIds(...)(fields, uid, roots)`. `roots` is
 * needed for a message without references (needsSubjectRoot); without it
 * such a message is rooted at itself.
 */
export function threadIds(address: string, uidValidity: number): (fields: SortFields | null, uid: number, roots?: SubjectRoots) => string {
  const emailIdOf = emailIds(address, uidValidity);
  return (fields, uid, roots) => {
    const root = roots?.(fields) ?? ownRoot(fields, uid, emailIdOf);
    return `T${digest('thread', address, root).slice(0, 24)}`;
  };
}

/** `(id)` as RFC 8474 §7 writes an objectid in responses (`"(" objectid ")"`). */
export function objectIdValue(id: string): ResponseValue {
  return list([atom(id)]);
}
