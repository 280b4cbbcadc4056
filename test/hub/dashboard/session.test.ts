import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../../mail-runtime/hub';
import { SESSION_LOGIN_FAILURES, SESSION_LOGIN_WINDOW_MS, SessionLoginLimiter } from '../../../mail-runtime/hub/api/login-limit';
import { MAX_SESSIONS, sessionCookie, SessionStore } from '../../../mail-runtime/hub/api/session';
import type { HubError } from '../../../mail-runtime/hub/errors';
import { ApiError } from '../../../mail-runtime/hub/protocol';
import { ensureDashboardBuilt } from '../../helpers/dashboard';
import { ADMIN_TOKEN, startTestHub } from '../../helpers/hub';

/**
 * The dashboard's login rules over real HTTP against a real hub: a token
 * becomes an HttpOnly SameSite=Strict cookie, state-changing requests need
 * the CSRF header, the read-only kind changes nothing, and sessions are bounded.
 */
const READONLY_TOKEN = 'read-only-token-for-tests-0123456789';

let dir: string;
let hub: RunningHub;
let base: string;

beforeAll(async () => {
  ensureDashboardBuilt();
  dir = await mkdtemp(join(tmpdir(), 'mf-dash-session-'));
  await mkdir(join(dir, 'secrets'), { recursive: true });
  const readOnlyTokenFile = join(dir, 'secrets', 'read-only-token');
  await writeFile(readOnlyTokenFile, `${READONLY_TOKEN}\n`);
  hub = await startTestHub(dir, { readOnlyTokenFile });
  base = hub.url;
});

afterAll(async () => {
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

async function call(method: string, path: string, opts: { cookie?: string; csrf?: string; body?: unknown; bearer?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, headers: res.headers };
}

async function login(token: string): Promise<{ cookie: string; csrf: string; kind: string; setCookie: string }> {
  const a = await call('POST', '/v1/session', { body: { token } });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  const setCookie = a.headers.get('set-cookie')!;
  const body = a.body as { csrfToken: string; kind: string };
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrfToken, kind: body.kind, setCookie };
}

function errorOf(a: Answer, status: number): string {
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  return ApiError.parse(a.body).error.message;
}

describe('dashboard sessions', () => {
  it('exchanges the admin token for an HttpOnly, SameSite=Strict cookie and a CSRF token; the token never goes in a URL', async () => {
    const s = await login(ADMIN_TOKEN);
    expect(s.kind).toBe('admin');
    expect(s.setCookie).toMatch(/^mailfleet_session=[A-Za-z0-9_-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // Plain HTTP on loopback: no Secure flag (the browser would drop the cookie); a TLS hub adds it (session.ts).
    expect(s.setCookie).not.toContain('Secure');
    expect(s.csrf.length).toBeGreaterThanOrEqual(40);
    const me = await call('GET', '/v1/session', { cookie: s.cookie });
    expect(me.status).toBe(200);
    expect((me.body as { csrfToken: string }).csrfToken).toBe(s.csrf);
    expect((await call('GET', '/v1/members', { cookie: s.cookie })).status).toBe(200);
  });

  it('refuses a wrong token with 401 JSON naming the field, and sets no cookie', async () => {
    const a = await call('POST', '/v1/session', { body: { token: 'not-the-token' } });
    errorOf(a, 401);
    expect((a.body as { error: { problems: { path: string }[] } }).error.problems[0]!.path).toBe('body.token');
    expect(a.headers.get('set-cookie')).toBeNull();
    const empty = await call('POST', '/v1/session', { body: { token: '' } });
    expect(errorOf(empty, 400)).toContain('body.token');
  });

  it('refuses a state-changing request made with the cookie but without (or with a wrong) CSRF header', async () => {
    const s = await login(ADMIN_TOKEN);
    const body = { name: 'csrf.test' };
    expect(errorOf(await call('POST', '/v1/domains', { cookie: s.cookie, body }), 403)).toContain('x-csrf-token');
    expect(errorOf(await call('POST', '/v1/domains', { cookie: s.cookie, csrf: 'forged', body }), 403)).toContain('CSRF');
    expect((await call('GET', '/v1/domains/csrf.test', { cookie: s.cookie })).status).toBe(404);
    expect((await call('POST', '/v1/domains', { cookie: s.cookie, csrf: s.csrf, body })).status).toBe(201);
  });

  it('gives the read-only token a session that reads everything and changes nothing (403 JSON)', async () => {
    const s = await login(READONLY_TOKEN);
    expect(s.kind).toBe('read-only');
    for (const path of ['/v1/members', '/v1/settings', '/v1/placement/summary', '/v1/events', '/v1/metrics/history', '/v1/domains']) {
      expect((await call('GET', path, { cookie: s.cookie })).status, path).toBe(200);
    }
    const writes: [string, string, unknown][] = [
      ['POST', '/v1/domains', { name: 'ro.test' }],
      ['PUT', '/v1/settings', { settings: { limits: { maxConnections: 5 } } }],
      ['POST', '/v1/placement/drain', { node: 'node-a' }],
      ['POST', '/v1/placement/move', { address: 'a@csrf.test', node: null }],
    ];
    for (const [method, path, body] of writes) {
      expect(errorOf(await call(method, path, { cookie: s.cookie, csrf: s.csrf, body }), 403), `${method} ${path}`).toContain('read-only');
      expect(errorOf(await call(method, path, { bearer: READONLY_TOKEN, body }), 403), `bearer ${method} ${path}`).toContain('read-only');
    }
    expect((await call('GET', '/v1/domains/ro.test', { bearer: ADMIN_TOKEN })).status).toBe(404);
    expect((await call('GET', '/v1/settings', { bearer: ADMIN_TOKEN })).body).toMatchObject({ version: 0 });
    // Checking a document changes nothing, so the read-only kind may do it.
    expect((await call('POST', '/v1/settings/validate', { cookie: s.cookie, csrf: s.csrf, body: { settings: { limits: { maxConnections: 0 } } } })).status).toBe(200);
  });

  it('logs out (CSRF needed), after which the cookie opens nothing', async () => {
    const s = await login(ADMIN_TOKEN);
    errorOf(await call('DELETE', '/v1/session', { cookie: s.cookie }), 403);
    const out = await call('DELETE', '/v1/session', { cookie: s.cookie, csrf: s.csrf });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    errorOf(await call('GET', '/v1/members', { cookie: s.cookie }), 401);
    errorOf(await call('GET', '/v1/session', { cookie: s.cookie }), 401);
  });

  it('marks the cookie Secure when the hub serves TLS, and a session expires (8 hours after login)', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const store = new SessionStore(() => now);
    const s = store.create('admin');
    expect(sessionCookie(s, true)).toMatch(/; Secure$/);
    expect(store.get(s.id)).toBe(s);
    now += 8 * 60 * 60 * 1000;
    expect(store.get(s.id)).toBeUndefined();
  });

  it(`keeps at most ${MAX_SESSIONS} sessions: the oldest login is dropped first`, async () => {
    const first = await login(ADMIN_TOKEN);
    for (let i = 0; i < MAX_SESSIONS; i++) await login(ADMIN_TOKEN);
    errorOf(await call('GET', '/v1/members', { cookie: first.cookie }), 401);
  });

  it('serves the dashboard page under /dashboard/ with a same-origin CSP; / redirects there', async () => {
    const root = await call('GET', '/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');
    const page = await call('GET', '/dashboard/');
    expect(page.status, String(page.body)).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(String(page.body)).toContain('<div id="app">');
    expect(String(page.body)).not.toMatch(/https?:\/\//);
    expect((await call('GET', '/dashboard/../../package.json')).status).toBe(404);
    expect((await call('GET', '/dashboard/%2e%2e/%2e%2e/package.json')).status).toBe(404);
  });
});

describe('dashboard event stream (Server-Sent Events)', () => {
  it('needs a session (401), sends the timeline, then each new event pushed; at most 32 streams (503 beyond)', async () => {
    expect((await call('GET', '/v1/events/stream')).status).toBe(401);
    const { cookie } = await login(ADMIN_TOKEN);
    const streams: AbortController[] = [];
    // Held until the end: fetch cancels the body of a Response that is garbage collected unread, which closes
    // its stream on the hub and would let a 33rd stream in.
    const held: Response[] = [];
    try {
      const open = async () => {
        const ctl = new AbortController();
        streams.push(ctl);
        const res = await fetch(`${base}/v1/events/stream`, { headers: { cookie }, signal: ctl.signal });
        held.push(res);
        return res;
      };
      const first = await open();
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toContain('text/event-stream');
      const reader = first.body!.getReader();
      let text = '';
      // Bounded reads: each waits for the hub's next write.
      const until = async (pattern: RegExp) => {
        for (let i = 0; i < 50 && !pattern.test(text); i++) text += new TextDecoder().decode((await reader.read()).value);
        expect(text).toMatch(pattern);
      };
      await until(/^event: timeline\ndata: \{"events":\[/);
      hub.hub.activity.record('member-joined', 'probe-1', 'pushed to the stream');
      await until(/event: activity\ndata: \{[^\n]*"member":"probe-1"[^\n]*\}\n\n/);
      for (let i = 1; i < 32; i++) expect((await open()).status).toBe(200);
      const refused = await open();
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/event streams/);
    } finally {
      for (const s of streams) s.abort();
    }
  });
});

// Last in the file: it uses up this address's failed logins on the shared hub.
describe('dashboard login rate limit per client address', () => {
  it(`answers 429 with Retry-After after ${SESSION_LOGIN_FAILURES} wrong tokens, to the right token too; other addresses and bearer calls are unaffected`, async () => {
    let answer: Answer | undefined;
    // Bounded: the earlier test's wrong token counts too, so the limit is reached within SESSION_LOGIN_FAILURES tries.
    for (let i = 0; i < SESSION_LOGIN_FAILURES; i++) {
      answer = await call('POST', '/v1/session', { body: { token: `wrong-${i}` } });
      if (answer.status === 429) break;
      expect(answer.status).toBe(401);
    }
    answer = await call('POST', '/v1/session', { body: { token: 'still-wrong' } });
    expect(errorOf(answer, 429)).toMatch(/too many failed logins/);
    expect(ApiError.parse(answer.body).error.code).toBe('rate_limited');
    const retryAfter = Number(answer.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(SESSION_LOGIN_WINDOW_MS / 1000);
    const right = await call('POST', '/v1/session', { body: { token: ADMIN_TOKEN } });
    expect(right.status).toBe(429);
    expect(right.headers.get('set-cookie')).toBeNull();
    // The bearer API is not a login: an operator's CLI keeps working.
    expect((await call('GET', '/v1/members', { bearer: ADMIN_TOKEN })).status).toBe(200);
  });

  it('lets an address try again once its latest failure left the window; counts IPv6 per /64', async () => {
    let now = 1_000_000;
    const limiter = new SessionLoginLimiter(() => now);
    for (let i = 0; i < SESSION_LOGIN_FAILURES; i++) await limiter.failed('2001:db8:1:2::10');
    // Another host of the same /64 is the same subscriber.
    const refused = await limiter.check('2001:db8:1:2::99').then(
      () => undefined,
      (e: unknown) => e as HubError,
    );
    expect(refused?.code).toBe('rate_limited');
    expect(refused?.retryAfterSeconds).toBe(SESSION_LOGIN_WINDOW_MS / 1000);
    await expect(limiter.check('2001:db8:1:3::10')).resolves.toBeUndefined();
    await expect(limiter.check('192.0.2.1')).resolves.toBeUndefined();
    now += SESSION_LOGIN_WINDOW_MS - 1000;
    await expect(limiter.check('2001:db8:1:2::10')).rejects.toMatchObject({ retryAfterSeconds: 1 });
    now += 1001;
    await expect(limiter.check('2001:db8:1:2::10')).resolves.toBeUndefined();
  });
});
