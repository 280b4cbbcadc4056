import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

/**
 * One error type for everything a platform API can do to a power operation.
 * `code` says what the operator has to fix: AUTH (credentials or their
 * grant), NOT_FOUND (the workload/VM/container named in the config),
 * TIMEOUT (the API did not answer in time), UNREACHABLE (no connection),
 * UNCONFIRMED (the platform accepted but never reported the new state),
 * API (any other refusal, with the platform's own message).
 */
export type PowerErrorCode = 'AUTH' | 'NOT_FOUND' | 'TIMEOUT' | 'UNREACHABLE' | 'UNCONFIRMED' | 'API';

export class PowerError extends Error {
  constructor(
    readonly code: PowerErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PowerError';
  }
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A response body larger than this is cut off: power APIs answer in a few KiB. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface Endpoint {
  /** `http(s)://host:port` or `unix:///path/to/socket` (the HTTP host is then `localhost`). */
  base: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  timeoutMs: number;
  /** Names the target in error messages, e.g. `kubernetes statefulset mail/pair-all-0`. */
  what: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTP(S) request with a hard deadline over the whole exchange
 * (connect, send, answer): node:http's own `timeout` only covers idle
 * sockets, and a fence that waits forever blocks the failover.
 */
export function request(ep: Endpoint, req: HttpRequest): Promise<HttpResponse> {
  const unix = ep.base.startsWith('unix://') ? ep.base.slice('unix://'.length) : undefined;
  const url = unix ? undefined : new URL(ep.base);
  const secure = url?.protocol === 'https:';
  const basePath = url ? url.pathname.replace(/\/$/, '') : '';
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const options: https.RequestOptions = {
    method: req.method,
    path: basePath + req.path,
    headers,
    ...(unix ? { socketPath: unix, host: 'localhost' } : { host: url!.hostname.replace(/^\[|\]$/g, ''), port: url!.port || (secure ? 443 : 80) }),
  };
  if (secure) {
    if (ep.caFile) options.ca = readFileSync(ep.caFile);
    if (ep.certFile) options.cert = readFileSync(ep.certFile);
    if (ep.keyFile) options.key = readFileSync(ep.keyFile);
  }
  return new Promise((resolve, reject) => {
    const r = (secure ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => {
      r.destroy();
      reject(new PowerError('TIMEOUT', `${ep.what}: ${req.method} ${req.path} got no answer within ${ep.timeoutMs} ms`));
    }, ep.timeoutMs);
    function fail(e: Error) {
      clearTimeout(timer);
      reject(e instanceof PowerError ? e : new PowerError('UNREACHABLE', `${ep.what}: ${req.method} ${req.path} failed: ${e.message}`));
    }
    r.on('error', fail);
    r.end(req.body);
  });
}

/** The body as JSON, or undefined when it is not JSON. */
export function jsonBody(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    return undefined;
  }
}

/** Waits `ms` (between status polls; bounded by the caller's deadline). */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
