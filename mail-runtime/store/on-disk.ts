import { z } from 'zod';
import { problemsFromZod } from '../config';
import { DELIVERY_ID_RE } from './deliveries';
import { EMAIL_ID_RE } from './email-id';
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
const emailId = z.string().regex(EMAIL_ID_RE);
const deliveryId = z.string().regex(DELIVERY_ID_RE);

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
  /** [uid, base, flags, internalDate ms, size, modseq, emailId?] (no emailId: written before ids were stored, see email-id.ts) */
  messages: z.array(
    z.union([
      z.tuple([uid, z.string().min(1), flags, z.number().finite(), count, count]),
      z.tuple([uid, z.string().min(1), flags, z.number().finite(), count, count, emailId]),
    ]),
  ),
  /** [uid, modseq] of expunges (RFC 7162 VANISHED); absent in snapshots written before QRESYNC. */
  expunged: z.array(z.tuple([uid, count])).optional(),
  /** Highest mod-sequence of an expunge no longer listed in `expunged` (see vanished.ts). */
  expungedFloor: count.optional(),
  /** [delivery id, accepted at ms, uid] within the horizon (see deliveries.ts); absent in snapshots written before them. */
  deliveries: z.array(z.tuple([deliveryId, z.number().finite(), uid])).optional(),
});
export type SnapshotFile = z.infer<typeof SnapshotFile>;

/** A snapshot without its `messages` and `deliveries`: what `parseSnapshot` checks with zod (the tuples by hand). */
const SnapshotHead = SnapshotFile.omit({ messages: true, deliveries: true });

/** Exactly what SnapshotFile's delivery tuple accepts. */
function isDeliveryTuple(t: unknown): boolean {
  if (!Array.isArray(t) || t.length !== 3) return false;
  const [id, at, u] = t as unknown[];
  return typeof id === 'string' && DELIVERY_ID_RE.test(id) && typeof at === 'number' && Number.isFinite(at) && typeof u === 'number' && Number.isInteger(u) && u >= 1 && u <= 0xffff_ffff;
}

/** Exactly what SnapshotFile's message tuple accepts, checked without building zod issues. */
function isMessageTuple(t: unknown): boolean {
  if (!Array.isArray(t) || (t.length !== 6 && t.length !== 7)) return false;
  const [u, base, flags, date, size, modseq, id] = t as unknown[];
  if (t.length === 7 && (typeof id !== 'string' || !EMAIL_ID_RE.test(id))) return false;
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
  // Even z.array(z.unknown()) walked (and copied) every tuple: the head is checked without them.
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const { messages, deliveries, ...rest } = value as Record<string, unknown>;
    const head = SnapshotHead.safeParse(rest);
    const deliveriesOk = deliveries === undefined || (Array.isArray(deliveries) && deliveries.every(isDeliveryTuple));
    if (head.success && deliveriesOk && Array.isArray(messages) && messages.every(isMessageTuple)) {
      return { ...head.data, messages: messages as SnapshotFile['messages'], ...(deliveries === undefined ? {} : { deliveries: deliveries as NonNullable<SnapshotFile['deliveries']> }) };
    }
  }
  return checkStored(SnapshotFile, value, file);
}

/** One line of `<maildir>/mailfleet/index.<epoch>.<gen>.log`: a(ppend), f(lags), x (expunge), r(ecent claimed up to a UID). */
export const IndexRecord = z.discriminatedUnion('t', [
  // k: the delivery id this message was delivered under (deliveries.ts); d is then the time it was accepted.
  z.strictObject({ t: z.literal('a'), u: uid, b: z.string().min(1), f: flags, d: z.number().finite(), s: count, m: count, e: emailId.optional(), k: deliveryId.optional() }),
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
