import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { tokenMatches } from './http';

/**
 * Browser sessions for the dashboard. The operator exchanges the admin token
 * (or the read-only token) once for a session cookie; the token itself never
 * appears in a URL and is not kept by the browser. The cookie is HttpOnly and
 * SameSite=Strict (RFC 6265bis §4.1.2.7), Secure when the hub serves TLS, and
 * every state-changing request made with it must also carry the session's
 * CSRF token in a header (OWASP "synchronizer token"): a page on another
 * origin can make the browser send the cookie but cannot read the token.
 */
export type SessionKind = 'admin' | 'read-only';

/** The cookie's name (RFC 6265 §4.1.1 cookie-name: a token). */
export const SESSION_COOKIE = 'mailfleet_session';
/** Header that carries the CSRF token on state-changing requests. */
export const CSRF_HEADER = 'x-csrf-token';
/** A session lives this long after login, whatever it does (an operator logs in again each working day). */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** At most this many sessions at once; a new login evicts the oldest (bounded memory, whatever clients do). */
export const MAX_SESSIONS = 64;

export const LoginRequest = z.strictObject({ token: z.string().min(1, 'must not be empty').max(4096) });
export const SessionAnswer = z.strictObject({
  kind: z.enum(['admin', 'read-only']),
  /** Send it back in the `x-csrf-token` header on every POST/PUT/PATCH/DELETE. */
  csrfToken: z.string(),
  expiresAt: z.iso.datetime(),
});

export interface Session {
  id: string;
  kind: SessionKind;
  csrf: string;
  expiresAt: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(kind: SessionKind): Session {
    this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) {
      // Map keeps insertion order: the first entry is the oldest login.
      const oldest = this.sessions.keys().next().value!;
      this.sessions.delete(oldest);
    }
    const s: Session = { id: randomBytes(32).toString('base64url'), kind, csrf: randomBytes(32).toString('base64url'), expiresAt: this.now() + SESSION_TTL_MS };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** The session cookie's value from a Cookie header (RFC 6265 §5.4), if any. */
export function sessionCookieOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(s: Session, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor((s.expiresAt - Date.now()) / 1000));
  return `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

export function csrfMatches(req: IncomingMessage, s: Session): boolean {
  const h = req.headers[CSRF_HEADER];
  return tokenMatches(typeof h === 'string' ? h : undefined, s.csrf);
}

export function sessionAnswer(s: Session): z.output<typeof SessionAnswer> {
  return { kind: s.kind, csrfToken: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() };
}
