/**
 * The admin API as the dashboard uses it: same origin, the session cookie
 * (HttpOnly, so script never sees it) and the CSRF token in a header on every
 * request that changes something. The hub is the only source of truth; the
 * page keeps nothing it does not fetch.
 */
export interface Problem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

export interface Session {
  kind: 'admin' | 'read-only';
  csrfToken: string;
  expiresAt: string;
}

let csrf: string | undefined;

export function setSession(s: Session | undefined): void {
  csrf = s?.csrfToken;
}

async function call<T>(method: string, path: string, body?: unknown, type = 'application/json'): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = type;
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'bad_answer', `the hub answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; problems?: Problem[] } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`, e?.problems ?? []);
  }
  return json as T;
}

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, body),
  put: <T>(path: string, body: unknown) => call<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, body),
  del: <T>(path: string) => call<T>('DELETE', path),
  csv: <T>(path: string, text: string) => call<T>('POST', path, text, 'text/csv'),
};

// ---- the shapes the pages read (mail-runtime/hub/protocol/admin.ts is the contract) ----

export interface Member {
  id: string;
  role: string;
  site: string;
  version: string;
  state: 'live' | 'dead';
  deathReason: string | null;
  nodeState: 'active' | 'drained' | 'dead' | null;
  incarnation: number;
  heartbeatAgeMs: number | null;
  streamConnected: boolean;
  applied: { placement: number; settings: number } | null;
  stats: Record<string, number> | null;
  upSince: string | null;
}

export interface HubStatus {
  id: string;
  active: boolean;
  epoch: number;
  activeUrl: string | null;
}

export interface ActivityEvent {
  at: string;
  kind: string;
  member: string | null;
  detail: string;
}

export interface PlacementSummary {
  version: number;
  nodes: { id: string; state: 'active' | 'drained' | 'dead'; users: number; domains: string[] }[];
  unplaced: number;
}

export interface OwnerAnswer {
  address: string;
  mailbox: string;
  node: string | null;
  epoch: number | null;
  version: number;
}

export interface User {
  address: string;
  domain: string;
  enabled: boolean;
  quota: number | null;
}

export interface Domain {
  name: string;
  enabled?: boolean;
  defaultQuota?: number | null;
}

export interface SettingsView {
  version: number;
  settings: Record<string, unknown>;
  applied: Record<string, number>;
}

export interface SettingsDiff {
  baseVersion: number;
  changes: { path: string; op: 'add' | 'remove' | 'change'; from?: unknown; to?: unknown }[];
}

export interface StatsHistory {
  windowMs: number;
  sampleMs: number;
  members: Record<string, { t: number; stats: Record<string, number> }[]>;
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}
