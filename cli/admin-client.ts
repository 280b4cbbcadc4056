import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ApiError, HubStatus } from '../mail-runtime/hub/protocol';
import type { CliIo } from './io';

/**
 * The operator commands' way to the hub's admin API: where the hub is
 * (`--hub URL` with the token from `--token-file` or MAILFLEET_ADMIN_TOKEN,
 * or the `cluster.json` that `npm start` writes), one call with the hub's
 * error message surfaced, every answer checked against the hub's schema.
 * A token is never taken from the command line: it would show in `ps`.
 */

/** How the command was used: exit 2. */
export class UsageError extends Error {}
/** The hub refused, or could not be reached, or answered nonsense: exit 1. */
class AdminError extends Error {}

export interface HubOptions {
  /** `--hub URL`, repeatable: every hub of the cluster (active and standby), tried in order. */
  hub?: string[];
  tokenFile?: string;
  dir?: string;
  json?: boolean;
}

/**
 * The hubs a command may ask and the admin token. `urls` are tried in
 * order; `answered` is the one that last answered as the active hub, asked
 * first by the following calls of the same command.
 */
export interface HubTarget {
  urls: string[];
  token: string;
  answered?: string;
}

/** Most hubs a cluster.json or repeated --hub may list (the runtime config's `hubUrls` bound). */
const MAX_HUBS = 16;

/**
 * What `npm start` (cli/local/launcher.ts) writes; only the part the CLI
 * reads. `hubs` lists every hub (active and standby) with its admin URL;
 * a cluster.json written before there were standby hubs has only `hub`.
 */
const ClusterJson = z.object({
  hub: z.object({ url: z.url(), adminToken: z.string().min(1) }),
  hubs: z.array(z.object({ url: z.url() })).max(MAX_HUBS).optional(),
});

/** Adds the "where is the hub" options and `--json` to a command. */
export function hubOptions(c: Command): Command {
  return c
    .option('--hub <url>', 'a hub admin API URL; repeat it for every hub (active and standby); token from --token-file or MAILFLEET_ADMIN_TOKEN', (v: string, prev: string[] = []) => [...prev, v])
    .option('--token-file <file>', 'a file holding the admin token (first line)')
    .option('--dir <dir>', 'the local cluster directory holding cluster.json', '.mailfleet')
    .option('--json', 'print the answer as JSON');
}

async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the token file ${file}: ${(e as Error).message}`);
  }
  const token = text.split(/\r?\n/)[0]!.trim();
  if (!token) throw new UsageError(`the token file ${file} is empty`);
  return token;
}

const trimUrl = (u: string): string => u.replace(/\/+$/, '');

/** The hub URLs and admin token from the options, the environment, or cluster.json. */
export async function resolveHub(opts: HubOptions, env: NodeJS.ProcessEnv = process.env): Promise<HubTarget> {
  const fromEnv = env.MAILFLEET_ADMIN_TOKEN?.trim();
  if (opts.hub?.length) {
    if (opts.hub.length > MAX_HUBS) throw new UsageError(`at most ${MAX_HUBS} --hub options (got ${opts.hub.length})`);
    for (const h of opts.hub) if (!/^https?:\/\//.test(h)) throw new UsageError(`--hub must be an http(s) URL, got "${h}"`);
    const token = opts.tokenFile ? await readToken(opts.tokenFile) : fromEnv;
    if (!token) throw new UsageError('no admin token: give --token-file FILE or set MAILFLEET_ADMIN_TOKEN (never the token itself on the command line)');
    return { urls: [...new Set(opts.hub.map(trimUrl))], token };
  }
  const file = resolve(join(opts.dir ?? '.mailfleet', 'cluster.json'));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`no running local cluster found: ${file} is missing (start one with \`npm start\`, or give --dir DIR, or --hub URL with --token-file FILE)`);
  }
  let parsed: z.output<typeof ClusterJson>;
  try {
    parsed = ClusterJson.parse(JSON.parse(text));
  } catch (e) {
    const why = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ') : (e as Error).message;
    throw new AdminError(`${file} is not a cluster.json mailfleet reads: ${why}`);
  }
  const token = opts.tokenFile ? await readToken(opts.tokenFile) : (fromEnv ?? parsed.hub.adminToken);
  // `hub.url` (the active hub when the file was written) first, then every other hub listed.
  return { urls: [...new Set([parsed.hub.url, ...(parsed.hubs ?? []).map((h) => h.url)].map(trimUrl))], token };
}

/** One hub's answer: parsed JSON, or why there is none. */
type HubAnswer = { kind: 'answer'; status: number; json: unknown } | { kind: 'unreachable'; why: string };

async function ask(url: string, token: string, method: string, path: string, body: unknown): Promise<HubAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
    text = await res.text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'unreachable', why: `cannot reach the hub at ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}` };
  }
  try {
    return { kind: 'answer', status: res.status, json: text ? JSON.parse(text) : undefined };
  } catch {
    throw new AdminError(`the hub at ${url} answered ${res.status} with a body that is not JSON`);
  }
}

/**
 * One admin API call to the active hub; a non-2xx answer throws the hub's
 * message. Every listed hub is tried in order (the one that answered last
 * first): an unreachable hub is skipped; a standby (`not_active`) that
 * names the active hub is followed there once, one that does not is
 * skipped. So a cluster.json written before a hub failover still works,
 * and so does a list of hubs of which one is down.
 */
export async function adminCall<S extends z.ZodType>(hub: HubTarget, method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
  const order = [...new Set([...(hub.answered ? [hub.answered] : []), ...hub.urls])];
  const why: string[] = [];
  for (const first of order) {
    let url = first;
    let a = await ask(url, hub.token, method, path, body);
    let err = a.kind === 'answer' && a.status >= 300 ? ApiError.safeParse(a.json) : undefined;
    const standbyNames = err?.success && err.data.error.code === 'not_active' ? err.data.error.active : undefined;
    if (standbyNames && trimUrl(standbyNames) !== url) {
      // A standby names the active hub: one hop there, never a chain (two standbys naming each other must not loop).
      url = trimUrl(standbyNames);
      a = await ask(url, hub.token, method, path, body);
      err = a.kind === 'answer' && a.status >= 300 ? ApiError.safeParse(a.json) : undefined;
    }
    if (a.kind === 'unreachable') {
      why.push(a.why);
      continue;
    }
    if (err) {
      if (!err.success) throw new AdminError(`the hub at ${url} answered ${a.status}`);
      const e = err.data.error;
      if (e.code === 'not_active') {
        why.push(`${e.message}${e.active ? ` (the active hub is ${e.active})` : ''}`);
        continue;
      }
      const problems = e.problems?.length ? `\n${e.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}` : '';
      throw new AdminError(`${e.message}${problems}`);
    }
    const ok = schema.safeParse(a.json);
    if (!ok.success) throw new AdminError(`the hub at ${url} answered ${method} ${path} with something this mailfleet does not understand: ${ok.error.issues[0]?.message ?? ''}`);
    hub.answered = url;
    return ok.data;
  }
  throw new AdminError(why.length === 1 ? why[0]! : `no active hub answered:\n${[...new Set(why)].map((w) => `  ${w}`).join('\n')}`);
}

/**
 * What each listed hub says it is (`GET /v1/hub`: active or standby, its
 * epoch), or why it did not answer; for `mailfleet status`.
 */
export async function hubStates(hub: HubTarget): Promise<{ url: string; state?: z.output<typeof HubStatus>; error?: string }[]> {
  const urls = [...new Set([...hub.urls, ...(hub.answered ? [hub.answered] : [])])];
  return Promise.all(
    urls.map(async (url) => {
      const a = await ask(url, hub.token, 'GET', '/v1/hub', undefined).catch((e: unknown) => ({ kind: 'unreachable' as const, why: (e as Error).message }));
      if (a.kind === 'unreachable') return { url, error: 'unreachable' };
      const ok = HubStatus.safeParse(a.json);
      return ok.success ? { url, state: ok.data } : { url, error: `answered ${a.status}` };
    }),
  );
}

/**
 * Wraps a command action: a UsageError exits 2, an AdminError (or a file
 * error) exits 1, both with `mailfleet <name>: message` on stderr.
 */
export function runAdmin(io: CliIo, setExit: (code: number) => void, name: string, action: () => Promise<void>): Promise<void> {
  return action().then(
    () => setExit(0),
    (e: unknown) => {
      if (e instanceof UsageError) {
        io.err(`mailfleet ${name}: ${e.message}\n`);
        setExit(2);
        return;
      }
      if (e instanceof AdminError) {
        io.err(`mailfleet ${name}: ${e.message}\n`);
        setExit(1);
        return;
      }
      throw e;
    },
  );
}

/** Left-aligned columns, two spaces apart. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}
