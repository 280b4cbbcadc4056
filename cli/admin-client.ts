import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ApiError } from '../mail-runtime/hub/protocol';
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
  hub?: string;
  tokenFile?: string;
  dir?: string;
  json?: boolean;
}

/** What `npm start` (cli/local/launcher.ts) writes; only the part the CLI reads. */
const ClusterJson = z.object({ hub: z.object({ url: z.url(), adminToken: z.string().min(1) }) });

/** Adds the "where is the hub" options and `--json` to a command. */
export function hubOptions(c: Command): Command {
  return c
    .option('--hub <url>', 'the hub admin API URL (token from --token-file or MAILFLEET_ADMIN_TOKEN)')
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

/** The hub URL and admin token from the options, the environment, or cluster.json. */
export async function resolveHub(opts: HubOptions, env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; token: string }> {
  const fromEnv = env.MAILFLEET_ADMIN_TOKEN?.trim();
  if (opts.hub) {
    if (!/^https?:\/\//.test(opts.hub)) throw new UsageError(`--hub must be an http(s) URL, got "${opts.hub}"`);
    const token = opts.tokenFile ? await readToken(opts.tokenFile) : fromEnv;
    if (!token) throw new UsageError('no admin token: give --token-file FILE or set MAILFLEET_ADMIN_TOKEN (never the token itself on the command line)');
    return { url: opts.hub.replace(/\/+$/, ''), token };
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
  return { url: parsed.hub.url.replace(/\/+$/, ''), token };
}

/**
 * One admin API call; a non-2xx answer throws the hub's message. A standby
 * hub that names the active one (`not_active` with `active`) is asked once
 * more there, so a cluster.json written before a hub failover still works.
 */
export async function adminCall<S extends z.ZodType>(hub: { url: string; token: string }, method: string, path: string, schema: S, body?: unknown, follow = true): Promise<z.output<S>> {
  const headers: Record<string, string> = { authorization: `Bearer ${hub.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${hub.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
    text = await res.text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new AdminError(`cannot reach the hub at ${hub.url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new AdminError(`the hub at ${hub.url} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const err = ApiError.safeParse(json);
    if (!err.success) throw new AdminError(`the hub at ${hub.url} answered ${res.status}`);
    const e = err.data.error;
    if (e.code === 'not_active' && e.active && follow) return adminCall({ url: e.active.replace(/\/+$/, ''), token: hub.token }, method, path, schema, body, false);
    const problems = e.problems?.length ? `\n${e.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}` : '';
    const active = e.active ? ` (the active hub is ${e.active})` : '';
    throw new AdminError(`${e.message}${active}${problems}`);
  }
  const ok = schema.safeParse(json);
  if (!ok.success) throw new AdminError(`the hub at ${hub.url} answered ${method} ${path} with something this mailfleet does not understand: ${ok.error.issues[0]?.message ?? ''}`);
  return ok.data;
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
