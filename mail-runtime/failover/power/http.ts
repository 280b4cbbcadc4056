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
    try {
      if (ep.caFile) options.ca = readTlsFile(ep, 'caFile', ep.caFile);
      if (ep.certFile) options.cert = readTlsFile(ep, 'certFile', ep.certFile);
      if (ep.keyFile) options.key = readTlsFile(ep, 'keyFile', ep.keyFile);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
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
      if (e instanceof PowerError) return reject(e);
      const tls = secure ? tlsRefusal(e as NodeJS.ErrnoException, ep) : undefined;
      reject(tls ?? new PowerError('UNREACHABLE', `${ep.what}: ${req.method} ${req.path} failed: ${e.message}`));
    }
    r.on('error', fail);
    r.end(req.body);
  });
}

function readTlsFile(ep: Endpoint, field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new PowerError('AUTH', `${ep.what}: ${field} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): nothing was powered`);
  }
}

/**
 * A TLS handshake the peer or we refused is a credential problem, not an
 * unreachable API: the operator fixes a certificate, not a route. The peer
 * refuses with an alert (TLS 1.3 `certificate_required`, RFC 8446 §6.2;
 * `bad_certificate`, `unknown_ca`, `handshake_failure`), which OpenSSL
 * reports as ERR_SSL_…_ALERT_…; we refuse the server's certificate when
 * `caFile` does not vouch for it (X.509 verify codes, a name mismatch).
 */
function tlsRefusal(e: NodeJS.ErrnoException, ep: Endpoint): PowerError | undefined {
  const code = e.code ?? '';
  if (/^ERR_SSL_.*ALERT/.test(code)) {
    const sent = ep.certFile ? `the client certificate ${ep.certFile} was refused` : 'no client certificate was sent (give tls.caFile, tls.certFile, tls.keyFile)';
    return new PowerError('AUTH', `${ep.what}: the API refused the TLS handshake (${code}): ${sent}; nothing was powered`);
  }
  if (/CERT|SIGNATURE|ISSUER|ERR_TLS_CERT_ALTNAME_INVALID/.test(code)) {
    return new PowerError('AUTH', `${ep.what}: the server's TLS certificate is not trusted (${code}: ${e.message}); check the CA file (${ep.caFile ?? 'none given: the system roots'}); nothing was powered`);
  }
  // TLS 1.3 checks the client's certificate after the client's half of the handshake: a refusal can reach us as a bare hang-up instead of the alert.
  if (ep.certFile && (code === 'ECONNRESET' || e.message === 'socket hang up')) {
    return new PowerError('UNREACHABLE', `${ep.what}: the connection was closed before an answer (${e.message}); an engine with --tlsverify does this to a client certificate its CA did not sign: check ${ep.certFile}; nothing was powered`);
  }
  return undefined;
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
