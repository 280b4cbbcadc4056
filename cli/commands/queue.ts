import { readdir } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { FieldProblemsError, loadRuntimeConfig } from '../../mail-runtime/config';
import {
  FOLDER_NAME,
  QueueError,
  findEntry,
  folderPaths,
  loadFolder,
  newestMarker,
  queueRoot,
  readMessageAt,
  writeControl,
  type FolderPaths,
  type Location,
  type QueueEntry,
} from '../../mail-runtime/smtp/queue';
import type { CliIo } from '../io';

/**
 * `mailfleet queue list|show|retry|delete`: the gateways' queues, read
 * straight from shared storage (`--storage PATH`, or the storage.path of a
 * member's config with `--config FILE`). Reading is safe while gateways run
 * (files are only ever renamed into place whole). Changes are never written
 * into an entry: `retry` and `delete` leave a request in the folder's
 * control/ directory that the owning gateway applies within seconds (or at
 * its next start), so an operator and a running gateway never race on a file.
 */

interface Where {
  storage?: string;
  config?: string;
}

/** One queued message as the CLI shows it. */
interface Row {
  folder: string;
  entry: QueueEntry;
}

class UsageError extends Error {}

function storagePath(opts: Where): string {
  if (opts.storage && opts.config) throw new UsageError('give --storage or --config, not both');
  if (opts.storage) return opts.storage;
  if (opts.config) return loadRuntimeConfig({ file: opts.config, env: process.env }).storage.path;
  const fromEnv = process.env.MAILFLEET_STORAGE_PATH;
  if (fromEnv) return fromEnv;
  throw new UsageError('where is the queue? give --storage PATH (the storage.path of the cluster) or --config member.yaml');
}

async function folders(storage: string): Promise<string[]> {
  try {
    return (await readdir(queueRoot(storage))).filter((n) => FOLDER_NAME.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Every readable entry of every folder; unreadable records are reported on stderr, not hidden. */
async function allRows(storage: string, io: CliIo): Promise<Row[]> {
  const rows: Row[] = [];
  for (const folder of await folders(storage)) {
    const state = await loadFolder(folderPaths(storage, folder));
    for (const p of state.problems) io.err(`${folder}: ${p.where}: ${p.error}\n`);
    for (const id of [...state.entries.keys()].sort()) rows.push({ folder, entry: state.entries.get(id)!.entry });
  }
  return rows;
}

/** The folder holding message `id`. */
async function find(storage: string, id: string): Promise<{ folder: string; paths: FolderPaths; entry: QueueEntry; loc: Location } | undefined> {
  for (const folder of await folders(storage)) {
    const paths = folderPaths(storage, folder);
    try {
      return { folder, paths, ...(await findEntry(paths, id)) };
    } catch (e) {
      if (e instanceof QueueError && e.code === 'NOT_FOUND') continue;
      throw e;
    }
  }
  return undefined;
}

/** A duration for people: 45s, 12m, 5h, 3d. */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function next(entry: QueueEntry, now: number): string {
  const due = entry.nextAttemptAt ? Date.parse(entry.nextAttemptAt) : 0;
  return due <= now ? 'now' : `in ${duration(due - now)}`;
}

function size(n: number): string {
  return n < 1024 ? `${n}B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)}K` : `${(n / 1024 / 1024).toFixed(1)}M`;
}

function table(rows: Row[], now: number): string {
  const head = ['ID', 'FOLDER', 'AGE', 'SIZE', 'FROM', 'PENDING', 'NEXT', 'LAST REPLY'];
  const body = rows.map(({ folder, entry }) => {
    const pending = entry.recipients.filter((r) => r.status === 'pending');
    const last = pending.find((r) => r.lastReply)?.lastReply ?? '';
    return [entry.id, folder, duration(now - Date.parse(entry.receivedAt)), size(entry.size), entry.mailFrom || '<>', `${pending.length}/${entry.recipients.length}`, next(entry, now), last.slice(0, 60)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** The message's header section (up to the first empty line), at most 64 KiB of it. */
function headerSection(message: Buffer): string {
  const end = message.indexOf('\r\n\r\n');
  return message.subarray(0, Math.min(end < 0 ? message.length : end, 64 * 1024)).toString('utf8');
}

export function registerQueue(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const queue = program
    .command('queue')
    .description("inspect the gateways' queues on shared storage: list, show, retry, delete (safe while gateways run)");
  const where = (c: Command) =>
    c.option('--storage <path>', 'the shared storage root (storage.path)').option('--config <file>', "a member's RuntimeConfig file: its storage.path");

  /** Runs an action with uniform errors: usage 2, anything the operator must fix 1. */
  const run = (action: () => Promise<void>) => async () => {
    try {
      await action();
    } catch (e) {
      if (e instanceof UsageError) {
        io.err(`mailfleet queue: ${e.message}\n`);
        setExit(2);
        return;
      }
      if (e instanceof FieldProblemsError || e instanceof QueueError || (e as NodeJS.ErrnoException).code !== undefined) {
        io.err(`mailfleet queue: ${(e as Error).message}\n`);
        setExit(1);
        return;
      }
      throw e;
    }
  };

  where(queue.command('list').description('every queued message, oldest first').option('--json', 'one JSON array: [{ folder, entry }]')).action(
    (opts: Where & { json?: boolean }) =>
      run(async () => {
        const rows = await allRows(storagePath(opts), io);
        if (opts.json) io.out(`${JSON.stringify(rows, null, 2)}\n`);
        else if (rows.length === 0) io.out('queue is empty\n');
        else io.out(table(rows, Date.now()));
        setExit(0);
      })(),
  );

  where(queue.command('show').description('one message: its entry (every recipient, attempts, last replies) and header').argument('<id>', 'queue id').option('--json', 'JSON: { folder, owner, entry, header }')).action(
    (id: string, opts: Where & { json?: boolean }) =>
      run(async () => {
        const storage = storagePath(opts);
        const found = await find(storage, id);
        if (!found) {
          io.err(`mailfleet queue: no queued message ${id}\n`);
          setExit(1);
          return;
        }
        const owner = await newestMarker(found.paths);
        const header = headerSection(await readMessageAt(found.loc));
        if (opts.json) io.out(`${JSON.stringify({ folder: found.folder, owner, entry: found.entry, header }, null, 2)}\n`);
        else {
          const e = found.entry;
          const lines = [
            `id:         ${e.id}`,
            `folder:     ${found.folder} (owner ${owner?.memberId ?? '?'}, epoch ${owner?.epoch ?? '?'})`,
            `received:   ${e.receivedAt} (${e.origin})`,
            `from:       ${e.mailFrom || '<>'}`,
            `size:       ${e.size}`,
            `next:       ${e.nextAttemptAt ?? 'now'}`,
            `expires:    ${e.expiresAt}`,
            'recipients:',
            ...e.recipients.map((r) => `  ${r.address}  ${r.status}  attempts=${r.attempts}${r.folder ? ` folder=${r.folder}` : ''}${r.lastReply ? `  ${r.lastReply}` : ''}`),
            'header:',
            ...header.split('\r\n').map((l) => `  ${l}`),
          ];
          io.out(`${lines.join('\n')}\n`);
        }
        setExit(0);
      })(),
  );

  /** retry and delete: find every id first, write requests only if all exist. */
  const request = async (action: 'retry' | 'delete', ids: string[], opts: Where & { all?: boolean; yes?: boolean }): Promise<void> => {
    const storage = storagePath(opts);
    if (opts.all && ids.length > 0) throw new UsageError('give ids or --all, not both');
    if (!opts.all && ids.length === 0) throw new UsageError(`give the ids to ${action}${action === 'retry' ? ' (or --all)' : ''}`);
    let targets: { folder: string; entry: QueueEntry }[];
    if (opts.all) targets = await allRows(storage, io);
    else {
      targets = [];
      const missing: string[] = [];
      for (const id of ids) {
        const f = await find(storage, id);
        if (f) targets.push(f);
        else missing.push(id);
      }
      if (missing.length > 0) {
        io.err(`mailfleet queue: no queued message ${missing.join(', ')}; nothing changed\n`);
        setExit(1);
        return;
      }
    }
    if (action === 'delete' && !opts.yes) {
      const pending = targets.reduce((n, t) => n + t.entry.recipients.filter((r) => r.status === 'pending').length, 0);
      throw new UsageError(`delete fails ${pending} pending recipient(s) of ${targets.length} message(s) for good, with no DSN to the sender; add --yes to do it`);
    }
    const by = `${userInfo().username}@${hostname()}`;
    for (const t of targets) {
      await writeControl(folderPaths(storage, t.folder), { id: t.entry.id, action, requestedAt: new Date().toISOString(), by });
    }
    io.out(`${action} requested for ${targets.length} message(s); the owning gateway applies it within seconds (or when it next starts)\n`);
    setExit(0);
  };

  where(queue.command('retry').description('deliver now instead of at the next scheduled attempt').argument('[ids...]', 'queue ids').option('--all', 'every queued message')).action(
    (ids: string[], opts: Where & { all?: boolean }) => run(() => request('retry', ids, opts))(),
  );
  where(
    queue
      .command('delete')
      .description('give up on messages: every pending recipient fails, no DSN is sent (needs --yes)')
      .argument('<ids...>', 'queue ids')
      .option('--yes', 'confirm: the pending recipients never get these messages and the sender is not told'),
  ).action((ids: string[], opts: Where & { yes?: boolean }) => run(() => request('delete', ids, opts))());
}
