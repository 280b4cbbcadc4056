import { z } from 'zod';
import { HubError } from '../errors';
import { tokenMatches } from './http';
import { SESSION_LOGIN_FAILURES, SESSION_LOGIN_WINDOW_MS } from './login-limit';
import { route, type AnyRoute } from './route';
import { clearedCookie, csrfMatches, LoginRequest, sessionAnswer, SessionAnswer, sessionCookie, type SessionKind } from './session';

/** Dashboard login: a token in the body (never in a URL) becomes an HttpOnly session cookie (session.ts says why). */
export const SESSION_ROUTES: AnyRoute[] = [
  route({
    method: 'POST',
    path: '/v1/session',
    auth: 'none',
    tag: 'session',
    summary: `Log in with the admin token (or the read-only token): sets an HttpOnly SameSite=Strict session cookie and answers the CSRF token; ${SESSION_LOGIN_FAILURES} wrong tokens from one address in ${SESSION_LOGIN_WINDOW_MS / 60_000} minutes answer 429 with Retry-After`,
    body: LoginRequest,
    response: SessionAnswer,
    status: 201,
    handler: async ({ body, req, res, sessions, logins, secure, tokens }) => {
      if (tokens.admin === undefined && tokens.readOnly === undefined) throw new HubError('forbidden', 'the admin API is disabled on this hub (no adminTokenFile)');
      const ip = req.socket.remoteAddress ?? '';
      await logins.check(ip);
      let kind: SessionKind | undefined;
      if (tokens.admin !== undefined && tokenMatches(body.token, tokens.admin)) kind = 'admin';
      else if (tokens.readOnly !== undefined && tokenMatches(body.token, tokens.readOnly)) kind = 'read-only';
      if (!kind) await logins.failed(ip);
      if (!kind) throw new HubError('unauthorized', 'the token is not this hub’s admin or read-only token', [{ path: 'body.token', message: 'does not match' }]);
      const s = sessions.create(kind);
      res.setHeader('set-cookie', sessionCookie(s, secure));
      return sessionAnswer(s);
    },
  }),
  route({
    method: 'GET',
    path: '/v1/session',
    auth: 'none',
    tag: 'session',
    summary: 'The current session (from its cookie): kind and CSRF token; 401 without one',
    response: SessionAnswer,
    handler: ({ caller }) => {
      if (!caller.session) throw new HubError('unauthorized', 'no session: log in with POST /v1/session');
      return sessionAnswer(caller.session);
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/session',
    auth: 'none',
    tag: 'session',
    summary: 'Log out (needs the x-csrf-token header)',
    response: z.strictObject({ ok: z.literal(true) }),
    handler: ({ caller, req, res, sessions, secure }) => {
      if (!caller.session) throw new HubError('unauthorized', 'no session: log in with POST /v1/session');
      if (!csrfMatches(req, caller.session)) throw new HubError('forbidden', "logging out needs the session's CSRF token in the x-csrf-token header");
      sessions.delete(caller.session.id);
      res.setHeader('set-cookie', clearedCookie(secure));
      return { ok: true as const };
    },
  }),
];
