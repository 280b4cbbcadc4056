import { z } from 'zod';
import { problemsFromZod } from '../../config';
import { QUEUE_ID } from './layout';
import { QueueError } from './errors';
import type { QueueEntry } from './types';

/**
 * The on-disk form of a QueueEntry, checked on every read: a file on shared
 * storage may have been written by another version, edited by hand or cut
 * short, and a bad one must be reported as such, never half-used.
 */
const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date');

const QueuedRecipientSchema = z.strictObject({
  address: z.string().min(1).max(512),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().min(0),
  lastReply: z.string().max(4096).optional(),
  doneAt: isoDate.optional(),
  folder: z.literal('junk').optional(),
});

export const QueueEntrySchema = z.strictObject({
  id: z.string().regex(QUEUE_ID, 'must be a queue id (newQueueId)'),
  receivedAt: isoDate,
  mailFrom: z.string().max(512),
  recipients: z.array(QueuedRecipientSchema).min(1),
  size: z.number().int().min(0),
  nextAttemptAt: isoDate.optional(),
  expiresAt: isoDate,
  owner: z.strictObject({ memberId: z.string().min(1), epoch: z.number().int().min(0) }),
  origin: z.enum(['mx', 'submission', 'dsn', 'forward']),
  dsn: z.strictObject({ ret: z.enum(['FULL', 'HDRS']).optional(), envid: z.string().max(100).optional() }).optional(),
});

/** Parses an entry's JSON text; `where` names the file in the error. */
export function parseEntry(text: string, where: string): QueueEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new QueueError('CORRUPT', `${where}: not JSON (${(err as Error).message})`);
  }
  const parsed = QueueEntrySchema.safeParse(raw);
  if (!parsed.success) {
    throw new QueueError('CORRUPT', `${where}: ${problemsFromZod(parsed.error).map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** One JSON line (JSON.stringify never emits a raw line break). */
export function serializeEntry(entry: QueueEntry): string {
  return JSON.stringify(entry);
}

/** True when no recipient is left to deliver. */
export function isComplete(entry: QueueEntry): boolean {
  return entry.recipients.every((r) => r.status !== 'pending');
}
