import { StoreError } from './types';
import type { StoreContext } from './fsutil';

/** A Node.js system error (a failed syscall: EIO, ENOSPC, EROFS, EACCES, ENOTDIR...). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * The store's answer to a failed syscall: an `IO` StoreError that keeps the
 * system error as its cause, logged once here with the stack. An I/O error is
 * never reported as something else (fencing means a higher epoch exists;
 * a full disk is not that).
 */
export function ioError(ctx: StoreContext, e: unknown, what: string, fields: Record<string, unknown> = {}): StoreError {
  const code = isSystemError(e) ? `${e.code} ` : '';
  const err = new StoreError('IO', `${what} failed: ${code}${e instanceof Error ? e.message : String(e)}`, { cause: e });
  // The StoreError's stack says where the store was; pino's err serializer adds the system error as "caused by".
  ctx.logger?.error({ ...fields, err }, `storage I/O error: ${what}`);
  return err;
}

/**
 * At the store's public boundary: StoreErrors pass, failed syscalls become
 * `IO` StoreErrors, anything else is a bug and passes unchanged (the caller
 * answers it as a server bug).
 */
export async function guard<T>(ctx: StoreContext, what: string, fields: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isSystemError(e)) throw ioError(ctx, e, what, fields);
    throw e;
  }
}
