import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import type { Logger } from '../../common/log';
import { problemsFromZod } from '../../config';
import { HubError } from '../errors';
import type { Hub } from '../hub';
import { ADMIN_ROUTES } from './admin-routes';
import { CLUSTER_ROUTES } from './cluster-routes';
import { bearerOf, readJson, sendError, sendJson, tokenMatches } from './http';
import { openApiDocument } from './openapi';
import { compilePath, route, type AnyRoute, type RouteContext } from './route';
import { SessionLoginLimiter } from './login-limit';
import { SESSION_ROUTES } from './session-routes';
import { csrfMatches, sessionCookieOf, SessionStore } from './session';
import { findDashboardDir, serveDashboard } from './static';

export interface HubApiOptions {
  /** The hub (a getter: the hub needs the API's bound port for its URL, so it is made after the API listens). */
  hub: () => Hub;
  host: string;
  port: number;
  /** Serve HTTPS with this certificate (from the cluster CA); plain HTTP otherwise (loopback: the local cluster). */
  tls?: { certPem: string; keyPem: string };
  /** Admin bearer token; without one (and without a read-only token) the admin API answers 403. */
  adminToken?: string;
  /** Read-only bearer token: GETs of the admin API (and dashboard sessions that change nothing). */
  readOnlyToken?: string;
  /** Folder of the built dashboard (index.html + assets); found next to the sources when not given. */
  dashboardDir?: string;
  clusterToken: string;
  version: string;
  log: Logger;
}

export interface HubApi {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

/** Every route of the hub, in matching order (the OpenAPI description lists them in this order too). */
export function hubRoutes(version: string): AnyRoute[] {
  const routes: AnyRoute[] = [...ADMIN_ROUTES, ...SESSION_ROUTES, ...CLUSTER_ROUTES];
  let doc: unknown;
  routes.push(
    route({
      method: 'GET',
      path: '/v1/openapi.json',
      auth: 'none',
      tag: 'hub',
      summary: 'This description (OpenAPI 3.1)',
      responseType: 'application/json',
      handler: ({ res }) => {
        doc ??= openApiDocument(routes, version);
        sendJson(res, 200, doc);
        return undefined;
      },
    }),
  );
  return routes;
}

function parseWith<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = problemsFromZod(r.error).map((p) => ({ path: p.path === '(top level)' ? where : `${where}.${p.path}`, message: p.message }));
  throw new HubError('bad_request', `invalid ${where}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
}

/** Who may call route `r`: bearer tokens first, then the dashboard session cookie (with its CSRF token on anything but GET). */
function authorize(r: AnyRoute, req: IncomingMessage, o: HubApiOptions, sessions: SessionStore): RouteContext<unknown, unknown, unknown>['caller'] {
  if (r.auth === 'none') {
    const s = sessions.get(sessionCookieOf(req));
    return s ? { kind: s.kind, session: s } : { kind: 'anonymous' };
  }
  if (r.auth === 'cluster') {
    if (!tokenMatches(bearerOf(req), o.clusterToken)) throw new HubError('unauthorized', 'a valid cluster token is required (Authorization: Bearer <token>)');
    return { kind: 'cluster' };
  }
  if (o.adminToken === undefined && o.readOnlyToken === undefined) throw new HubError('forbidden', 'the admin API is disabled on this hub (no adminTokenFile)');
  const bearer = bearerOf(req);
  let caller: RouteContext<unknown, unknown, unknown>['caller'];
  if (bearer !== undefined) {
    if (o.adminToken !== undefined && tokenMatches(bearer, o.adminToken)) caller = { kind: 'admin' };
    else if (o.readOnlyToken !== undefined && tokenMatches(bearer, o.readOnlyToken)) caller = { kind: 'read-only' };
    else throw new HubError('unauthorized', 'a valid admin token is required (Authorization: Bearer <token>)');
  } else {
    const s = sessions.get(sessionCookieOf(req));
    if (!s) throw new HubError('unauthorized', 'a valid admin token (Authorization: Bearer <token>) or a dashboard session (POST /v1/session) is required');
    // A cookie rides along with any request the browser makes, even one another site triggers; the header proves the page read the token.
    if (req.method !== 'GET' && !csrfMatches(req, s)) throw new HubError('forbidden', "a state-changing request made with a session cookie must carry the session's CSRF token in the x-csrf-token header");
    caller = { kind: s.kind, session: s };
  }
  if (caller.kind === 'read-only' && req.method !== 'GET' && !r.readOnlySafe) throw new HubError('forbidden', `read-only access: ${req.method} ${r.path} changes the cluster and needs the admin token`);
  return caller;
}

export async function startHubApi(o: HubApiOptions): Promise<HubApi> {
  const routes = hubRoutes(o.version).map((r) => ({ r, ...compilePath(r.path) }));
  const sessions = new SessionStore();
  const logins = new SessionLoginLimiter();
  const dashboardDir = o.dashboardDir ?? findDashboardDir();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = url.pathname;
    if (path === '/' || path === '/dashboard' || path.startsWith('/dashboard/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HubError('bad_request', `${req.method} is not allowed on ${path}; use GET`);
      await serveDashboard(req, res, path, dashboardDir);
      return;
    }
    const candidates = routes.filter((x) => x.re.test(path));
    if (candidates.length === 0) throw new HubError('not_found', `no endpoint ${path} (see /v1/openapi.json)`);
    const hit = candidates.find((x) => x.r.method === req.method);
    if (!hit) {
      res.setHeader('allow', candidates.map((x) => x.r.method).join(', '));
      throw new HubError('bad_request', `${req.method} is not allowed on ${path}; use ${candidates.map((x) => x.r.method).join(' or ')}`);
    }
    const r = hit.r;
    const caller = authorize(r, req, o, sessions);
    const m = hit.re.exec(path)!;
    let rawParams: Record<string, string>;
    try {
      rawParams = Object.fromEntries(hit.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
    } catch {
      throw new HubError('bad_request', 'the path is not valid percent-encoding', [{ path: 'params', message: 'bad percent-encoding' }]);
    }
    const params = parseWith(r.params, rawParams, 'params');
    const query = parseWith(r.query, Object.fromEntries(url.searchParams), 'query');
    let body: unknown;
    if (r.body) body = parseWith(r.body, await readJson(req), 'body');
    const result = await r.handler({ params, query, body, req, res, hub: o.hub(), caller, sessions, logins, secure: o.tls !== undefined, tokens: { admin: o.adminToken, readOnly: o.readOnlyToken } });
    if (result === undefined && !r.response) return;
    sendJson(res, r.status ?? 200, result);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HubError) {
        const hub = o.hub();
        if (err.code === 'not_active' && err.active === undefined && hub.activeUrl && hub.activeUrl !== hub.o.url) {
          sendError(res, new HubError('not_active', err.message, undefined, hub.activeUrl));
        } else sendError(res, err);
        return;
      }
      o.log.error({ err, method: req.method, url: req.url }, 'hub API: request failed');
      sendError(res, new HubError('internal', 'internal error (logged on the hub)'));
    });
  };
  const server = o.tls ? createHttpsServer({ cert: o.tls.certPem, key: o.tls.keyPem }, onRequest) : createHttpServer(onRequest);
  // Streams stay open for hours; keep-alive sockets of heartbeats are reused.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
