import { z } from 'zod';
import { problemsFromZod } from '../config';
import { StoreError, type SpecialUse } from './types';

/**
 * Shapes of the JSON files the store writes, checked when read back. A file
 * that does not match was not written by us as it is now (a bug, another
 * program, a damaged disk): it is refused as CORRUPT with the file and the
 * field named, never replaced by a default (which would silently drop
 * subscriptions, flags or whole messages).
 */

export const SPECIAL_USES = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged'] as const satisfies readonly SpecialUse[];

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const uid = z.number().int().min(1).max(0xffff_ffff); // RFC 3501 §2.3.1.1: UIDs are 32-bit
const flags = z.array(z.string().min(1));

/** `<user>/mailfleet/user/user.json`: subscriptions and special-use attributes. */
export const UserMetaFile = z.strictObject({
  v: z.literal(1),
  subscriptions: z.array(z.string().min(1)),
  specialUse: z.record(z.string().min(1), z.enum(SPECIAL_USES)),
  /**
   * RFC 4314 access control lists: folder → identifier → rights (letters of
   * `lrswipkxtea`, stored expanded: never the obsolete `c`/`d`). Absent in
   * files written before ACLs existed (no grants).
   */
  acl: z.record(z.string().min(1), z.record(z.string().min(1), z.string().regex(/^[lrswipkxtea]*$/))).optional(),
});
export type UserMetaFile = z.infer<typeof UserMetaFile>;

/** `<maildir>/mailfleet/snapshot.<epoch>.json` (see index-log.ts). */
export const SnapshotFile = z.strictObject({
  v: z.literal(1),
  epoch: count,
  gen: count,
  uidValidity: z.number().int().min(1).max(0xffff_ffff),
  uidNext: z.number().int().min(1).max(0x1_0000_0000),
  highestModseq: count,
  /** RFC 3501 §2.3.2: UIDs up to this one were announced as \Recent to some session (absent: not known). */
  recent: z.number().int().min(0).max(0xffff_ffff).optional(),
  /** [uid, base, flags, internalDate ms, size, modseq] */
  messages: z.array(z.tuple([uid, z.string().min(1), flags, z.number().finite(), count, count])),
  /** [uid, modseq] of expunges (RFC 7162 VANISHED); absent in snapshots written before QRESYNC. */
  expunged: z.array(z.tuple([uid, count])).optional(),
  /** Highest mod-sequence of an expunge no longer listed in `expunged` (see vanished.ts). */
  expungedFloor: count.optional(),
});
export type SnapshotFile = z.infer<typeof SnapshotFile>;

/** A snapshot's `messages` without their check: what `parseSnapshot` checks by hand first. */
const SnapshotHead = SnapshotFile.extend({ messages: z.array(z.unknown()) });

/** Exactly what SnapshotFile's message tuple accepts, checked without building zod issues. */
function isMessageTuple(t: unknown): boolean {
  if (!Array.isArray(t) || t.length !== 6) return false;
  const [u, base, flags, date, size, modseq] = t as unknown[];
  if (typeof u !== 'number' || !Number.isInteger(u) || u < 1 || u > 0xffff_ffff) return false;
  if (typeof base !== 'string' || base.length === 0) return false;
  if (!Array.isArray(flags)) return false;
  for (const f of flags as unknown[]) if (typeof f !== 'string' || f.length === 0) return false;
  if (typeof date !== 'number' || !Number.isFinite(date)) return false;
  for (const n of [size, modseq]) if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) return false;
  return true;
}

/**
 * Parses and checks a snapshot. zod builds a result object per element and
 * took about 0.3 s for the 100,000 message tuples of a large folder (every
 * SELECT of a folder not open yet pays it), so the tuples are checked by
 * the hand-written equivalent above and the rest by zod; anything the fast
 * check refuses goes through the whole SnapshotFile schema, so a damaged
 * snapshot is reported exactly as before (file and field named).
 */
export function parseSnapshot(text: string, file: string): SnapshotFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, undefined, `not JSON (${(e as Error).message})`);
  }
  const head = SnapshotHead.safeParse(value);
  if (head.success && head.data.messages.every(isMessageTuple)) return head.data as SnapshotFile;
  return checkStored(SnapshotFile, value, file);
}

/** One line of `<maildir>/mailfleet/index.<epoch>.<gen>.log`: a(ppend), f(lags), x (expunge), r(ecent claimed up to a UID). */
export const IndexRecord = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('a'), u: uid, b: z.string().min(1), f: flags, d: z.number().finite(), s: count, m: count }),
  z.strictObject({ t: z.literal('f'), u: uid, f: flags, m: count }),
  z.strictObject({ t: z.literal('x'), u: z.array(uid), m: count }),
  z.strictObject({ t: z.literal('r'), u: z.number().int().min(0).max(0xffff_ffff) }),
]);
export type IndexRecord = z.infer<typeof IndexRecord>;

/** `where`: the part of the file, e.g. "line 12". */
function corrupt(file: string, where: string | undefined, what: string): StoreError {
  return new StoreError('CORRUPT', `${file}${where ? ` ${where}` : ''} is damaged: ${what}`);
}

/** Checks already-parsed JSON against `schema`; CORRUPT names the file and the bad fields. */
export function checkStored<T>(schema: z.ZodType<T>, value: unknown, file: string, where?: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = problemsFromZod(r.error);
  const listed = problems
    .slice(0, 3)
    .map((p) => `${p.path}: ${p.message}`)
    .join('; ');
  throw corrupt(file, where, problems.length > 3 ? `${listed}; and ${problems.length - 3} more` : listed);
}

/** Parses and checks one of our JSON files (or one line of a log). */
export function parseStored<T>(schema: z.ZodType<T>, text: string, file: string, where?: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, where, `not JSON (${(e as Error).message})`);
  }
  return checkStored(schema, value, file, where);
}
