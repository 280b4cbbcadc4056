/**
 * The queue's one error type. `code` says which concern: a newer owner holds
 * the folder (FENCED), a file is not a valid entry (CORRUPT), no such entry
 * (NOT_FOUND). I/O errors from the filesystem pass through as they are: a
 * full disk is never reported as "fenced".
 */
export type QueueErrorCode = 'FENCED' | 'CORRUPT' | 'NOT_FOUND';

export class QueueError extends Error {
  constructor(
    readonly code: QueueErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'QueueError';
  }
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
