import type { ApiErrorCode } from './protocol';

/**
 * The one error type of the hub's services. The API turns it into its HTTP
 * status and the `ApiError` body; `problems` name the bad fields
 * (`body.address: must be ...`).
 */
export class HubError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly problems?: { path: string; message: string }[],
    /** With `not_active`: where the active hub is, when known. */
    readonly active?: string,
    /** With `rate_limited`: seconds until a new attempt is taken (the Retry-After header). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export function notFound(what: string): HubError {
  return new HubError('not_found', `${what} does not exist`);
}

export function conflict(message: string, path?: string): HubError {
  return new HubError('conflict', message, path ? [{ path, message }] : undefined);
}

export function badField(path: string, message: string): HubError {
  return new HubError('bad_request', `${path}: ${message}`, [{ path, message }]);
}

/** Thrown by every write while this hub is not the active one (hub/lease). */
export function notActive(active?: string): HubError {
  return new HubError('not_active', 'this hub is not the active one', undefined, active);
}
