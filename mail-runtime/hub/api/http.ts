import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError } from '../errors';
import type { ApiError, ApiErrorCode } from '../protocol';

/** HTTP status of each error code (RFC 9110 §15). */
export const STATUS: Record<ApiErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  not_active: 503,
  unavailable: 503,
};

/** A JSON body larger than this is refused (413): settings with certificates and DKIM keys fit many times over. */
export const MAX_JSON_BODY_BYTES = 4 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HubError): void {
  const body: ApiError = {
    error: {
      code: err.code,
      message: err.message,
      ...(err.problems ? { problems: err.problems } : {}),
      ...(err.active ? { active: err.active } : {}),
    },
  };
  if (err.code === 'unauthorized') res.setHeader('www-authenticate', 'Bearer realm="mailfleet"');
  if (err.code === 'not_active' || err.code === 'unavailable') res.setHeader('retry-after', '1');
  // RFC 6585 §4: a 429 may say how long to wait (RFC 9110 §10.2.3 Retry-After, in seconds).
  if (err.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(err.retryAfterSeconds));
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, STATUS[err.code], body);
}

/** Reads a JSON body (bounded), or throws HubError naming what is wrong. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HubError('unsupported_media_type', `send the body as application/json (got ${type || 'no content-type'})`);
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_JSON_BODY_BYTES) throw new HubError('payload_too_large', `a JSON body is at most ${MAX_JSON_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_JSON_BODY_BYTES) throw new HubError('payload_too_large', `a JSON body is at most ${MAX_JSON_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HubError('bad_request', 'the body is not valid JSON', [{ path: 'body', message: (err as Error).message }]);
  }
}

/** Compares a presented bearer token with the expected one in constant time (hashing both first makes the lengths equal). */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function bearerOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}
