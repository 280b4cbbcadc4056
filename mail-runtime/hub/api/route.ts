import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Hub } from '../hub';
import type { SessionLoginLimiter } from './login-limit';
import type { Session, SessionKind, SessionStore } from './session';

/**
 * One endpoint: method, path template, who may call it, the zod schemas of
 * its inputs and answer, and the handler. The router validates every input
 * with these schemas before the handler runs, and the OpenAPI description is
 * generated from the same table, so the two cannot drift apart.
 */
export type Auth = 'admin' | 'cluster' | 'none';
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  req: IncomingMessage;
  res: ServerResponse;
  hub: Hub;
  /** Who is calling: the admin, a read-only caller, a member, or nobody known (`auth: 'none'` routes). */
  caller: { kind: SessionKind | 'cluster' | 'anonymous'; session?: Session };
  sessions: SessionStore;
  /** Failed dashboard logins per client address (login-limit.ts). */
  logins: SessionLoginLimiter;
  /** The hub serves TLS (session cookies get `Secure`). */
  secure: boolean;
  /** The tokens a login may present. */
  tokens: { admin: string | undefined; readOnly: string | undefined };
}

export interface RouteDef<P, Q, B> {
  method: Method;
  /** `/v1/users/{address}`. */
  path: string;
  auth: Auth;
  /** An admin route a read-only caller may use although it is not a GET (it changes nothing: validate, diff). */
  readOnlySafe?: boolean;
  tag: string;
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  /** A JSON body validated by this schema. */
  body?: z.ZodType<B>;
  /** The handler reads the request body itself (bulk import); media types for the description. */
  rawBody?: string[];
  /** The answer (200 unless `status`); absent: the handler writes the response itself (streams). */
  response?: z.ZodType;
  status?: number;
  /** Media type of a response the handler writes itself. */
  responseType?: string;
  handler(ctx: RouteContext<P, Q, B>): unknown;
}

/** A route with its types erased, as the router and the description generator hold it. */
export interface AnyRoute {
  method: Method;
  path: string;
  auth: Auth;
  readOnlySafe?: boolean;
  tag: string;
  summary: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  rawBody?: string[];
  response?: z.ZodType;
  status?: number;
  responseType?: string;
  handler(ctx: RouteContext<unknown, unknown, unknown>): unknown;
}

export function route<P = undefined, Q = undefined, B = undefined>(def: RouteDef<P, Q, B>): AnyRoute {
  return def as unknown as AnyRoute;
}

/** `/v1/users/{address}` → a regexp and the parameter names in order. */
export function compilePath(path: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([a-zA-Z]+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { re: new RegExp(`^${source}$`), names };
}
