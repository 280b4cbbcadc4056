import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { z } from 'zod';
import type { Logger } from '../common/log';
import { ApiError, STREAM_EVENT_TYPES, StreamEvent } from '../hub/protocol';

/**
 * HTTP(S) to the hub for a member: the list of hub URLs tried in order, the
 * active hub followed when a standby answers `not_active`, the cluster token
 * on every call, the cluster CA as the only trust anchor for https URLs.
 * Keep-alive connections: a heartbeat a second costs no handshake.
 */

export class HubUnreachableError extends Error {
  constructor(readonly attempts: string[]) {
    super(`no hub reachable (${attempts.join('; ')})`);
    this.name = 'HubUnreachableError';
  }
}

/** The hub answered with an error (its ApiError body, when it sent one). */
export class HubCallError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError | undefined,
    readonly url: string,
  ) {
    super(`${url}: ${status} ${body?.error.code ?? ''} ${body?.error.message ?? ''}`.trim());
    this.name = 'HubCallError';
  }

  get code(): string | undefined {
    return this.body?.error.code;
  }
}

export interface HubClientOptions {
  urls: readonly string[];
  token: string;
  /** PEM of the cluster CA: the only anchor https hub certificates are checked against. */
  caPem?: string;
  log: Logger;
}

/** Answers larger than this are refused (a placement snapshot of a big cluster is well below). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** How often a call follows `not_active` redirects before giving up on this round. */
const MAX_FOLLOWS = 2;

export class HubClient {
  private readonly urls: string[];
  private index = 0;
  /** An active hub learnt from a `not_active` answer (may be outside the configured list). */
  private followed: string | undefined;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly o: HubClientOptions) {
    if (o.urls.length === 0) throw new Error('at least one hub URL is needed');
    this.urls = o.urls.map((u) => u.replace(/\/+$/, ''));
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(o.caPem ? { ca: o.caPem } : {}) });
  }

  /** The URL calls go to now. */
  get url(): string {
    return this.followed ?? this.urls[this.index]!;
  }

  private rotate(): void {
    if (this.followed) this.followed = undefined;
    else this.index = (this.index + 1) % this.urls.length;
  }

  /** One call with failover over the hub URLs; parses the answer with `schema`. */
  async call<T>(method: string, path: string, body: unknown, schema: z.ZodType<T>, timeoutMs: number): Promise<T> {
    const attempts: string[] = [];
    let follows = 0;
    // Each configured URL once, plus the active hubs `not_active` answers point to.
    const tries = this.urls.length + MAX_FOLLOWS + (this.followed ? 1 : 0);
    for (let i = 0; i < tries; i++) {
      const base = this.url;
      let res: { status: number; text: string };
      try {
        res = await this.send(base, method, path, body, timeoutMs);
      } catch (err) {
        attempts.push(`${base}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        this.rotate();
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        const parsed = schema.safeParse(res.text ? JSON.parse(res.text) : undefined);
        if (!parsed.success) throw new HubCallError(res.status, undefined, `${base}${path} (answer does not match the protocol: ${parsed.error.issues[0]?.message ?? ''})`);
        return parsed.data;
      }
      let err: ApiError | undefined;
      try {
        const p = ApiError.safeParse(JSON.parse(res.text));
        err = p.success ? p.data : undefined;
      } catch {
        err = undefined;
      }
      if (res.status === 503 && err?.error.code === 'not_active') {
        attempts.push(`${base}: not active`);
        const active = err.error.active?.replace(/\/+$/, '');
        if (active && active !== base && follows < MAX_FOLLOWS) {
          follows++;
          this.followed = active;
          this.o.log.info({ from: base, to: active }, 'following the active hub');
        } else this.rotate();
        continue;
      }
      throw new HubCallError(res.status, err, `${base}${path}`);
    }
    throw new HubUnreachableError(attempts);
  }

  private send(base: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; text: string }> {
    const url = new URL(path, `${base}/`);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const https = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method,
          agent: https ? this.httpsAgent : this.httpAgent,
          headers: {
            authorization: `Bearer ${this.o.token}`,
            accept: 'application/json',
            ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(data);
    });
  }

  /**
   * Opens the event stream at the current hub. Lines that are not a known
   * event are skipped (a newer hub may send types this member does not know);
   * `onEnd` runs once when the stream ends for any reason.
   */
  openStream(path: string, onEvent: (e: StreamEvent) => void, onEnd: (why: string) => void): { close(): void; url: string } {
    const base = this.url;
    const url = new URL(path, `${base}/`);
    const https = url.protocol === 'https:';
    let ended = false;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      onEnd(why);
    };
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: 'GET',
        // A stream holds its socket for hours: not from the keep-alive pool.
        agent: false,
        ...(https && this.o.caPem ? { ca: this.o.caPem } : {}),
        headers: { authorization: `Bearer ${this.o.token}`, accept: 'application/x-ndjson' },
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
          end(`stream answered ${res.statusCode}`);
          return;
        }
        res.socket.setKeepAlive(true, 1000);
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          rest += chunk;
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const line = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            if (!line.trim()) continue;
            let raw: unknown;
            try {
              raw = JSON.parse(line);
            } catch {
              this.o.log.warn({ line: line.slice(0, 200) }, 'hub stream: a line is not JSON');
              continue;
            }
            const type = (raw as { type?: unknown } | null)?.type;
            if (typeof type !== 'string' || !(STREAM_EVENT_TYPES as readonly string[]).includes(type)) continue;
            const ev = StreamEvent.safeParse(raw);
            if (!ev.success) {
              this.o.log.warn({ type, problem: ev.error.issues[0]?.message }, 'hub stream: an event does not match the protocol');
              continue;
            }
            onEvent(ev.data);
          }
          if (rest.length > MAX_ANSWER_BYTES) req.destroy(new Error('stream line too long'));
        });
        res.on('end', () => end('stream ended'));
        res.on('close', () => end('stream closed'));
        res.on('error', (err) => end(`stream error: ${err.message}`));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      end(`stream: ${err.code ?? err.message}`);
      this.rotate();
    });
    req.end();
    return {
      url: base,
      close: () => {
        ended = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
