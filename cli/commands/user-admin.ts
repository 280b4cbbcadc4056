import type { Command } from 'commander';
import { z } from 'zod';
import { hashPassword } from '../../mail-runtime/auth';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, User, UserPage } from '../../mail-runtime/hub/protocol';
import { adminCall, hubOptions, printJson, resolveHub, runAdmin, table, UsageError, type HubOptions } from '../admin-client';
import type { CliIo } from '../io';

/**
 * `mailfleet user add|list|passwd|remove` against a running cluster's hub.
 * A password comes from a hidden prompt or the first line of stdin and is
 * hashed here: only the scrypt hash goes over the wire.
 */

const Ok = z.object({ ok: z.literal(true) });

async function passwordHash(io: CliIo): Promise<string> {
  const password = await io.readSecret('password');
  if (password === undefined || password.length === 0) throw new UsageError('no password given (type it at the prompt, or pipe it: `printf %s "$PW" | mailfleet user add ADDRESS`)');
  if (password.length < MIN_PASSWORD_LENGTH) throw new UsageError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new UsageError(`the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  return hashPassword(password);
}

export function registerUserAdmin(user: Command, io: CliIo, setExit: (code: number) => void): void {
  hubOptions(user.command('add').argument('<address>', 'the new user').description('add a user; the password comes from a hidden prompt or the first line of stdin')).action((address: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'user add', async () => {
      const hub = await resolveHub(opts);
      const u = await adminCall(hub, 'POST', '/v1/users', User, { address, passwordHash: await passwordHash(io) });
      if (opts.json) return printJson(io, u);
      io.out(`added user ${u.address}\n`);
    }),
  );
  hubOptions(user.command('list').description('every user (or of one domain)').option('--domain <domain>', 'only this domain').option('--search <text>', 'a substring of the address, or a prefix ending in *')).action(
    (opts: HubOptions & { domain?: string; search?: string }) =>
      runAdmin(io, setExit, 'user list', async () => {
        const hub = await resolveHub(opts);
        const all: z.output<typeof User>[] = [];
        let cursor: string | null = null;
        do {
          const q = new URLSearchParams({ limit: '1000' });
          if (opts.domain) q.set('domain', opts.domain);
          if (opts.search) q.set('search', opts.search);
          if (cursor) q.set('cursor', cursor);
          const page: z.output<typeof UserPage> = await adminCall(hub, 'GET', `/v1/users?${q}`, UserPage);
          all.push(...page.users);
          cursor = page.next;
        } while (cursor);
        if (opts.json) return printJson(io, all);
        io.out(table(['ADDRESS', 'ENABLED', 'QUOTA', 'FORWARD TO'], all.map((u) => [u.address, u.enabled ? 'yes' : 'no', u.quota ? JSON.stringify(u.quota) : 'domain default', u.forwardTo.join(',') || '-'])));
      }),
  );
  hubOptions(user.command('passwd').argument('<address>', 'the user').description('set a new password (hidden prompt or first line of stdin)')).action((address: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'user passwd', async () => {
      const hub = await resolveHub(opts);
      await adminCall(hub, 'PUT', `/v1/users/${encodeURIComponent(address)}/password`, Ok, { passwordHash: await passwordHash(io) });
      if (opts.json) return printJson(io, { ok: true });
      io.out(`password of ${address} changed\n`);
    }),
  );
  hubOptions(user.command('remove').argument('<address>', 'the user').description('remove a user from the directory (the mail files stay on the storage)')).action((address: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'user remove', async () => {
      await adminCall(await resolveHub(opts), 'DELETE', `/v1/users/${encodeURIComponent(address)}`, Ok);
      if (opts.json) return printJson(io, { ok: true });
      io.out(`removed user ${address}\n`);
    }),
  );
}
