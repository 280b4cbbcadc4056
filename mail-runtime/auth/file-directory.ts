import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Logger } from '../common/log';
import { ConfigFileError, problemsFromZod } from '../config';
import { DIRECT_PASSWORD_CHECKS, passwordHashProblem } from './password';
import { isSharedOwner, normalizeAddress, SHARED_OWNER_LOCAL_PART, type AuthContext, type Directory, type DirectoryUser } from './types';

/**
 * The local users file (YAML or JSON, same shape):
 *
 * ```yaml
 * users:
 *   - address: alice@example.com
 *     password: scrypt$32768$8$1$<salt>$<hash>   # from `mailfleet user hash` (hashPassword())
 *   - address: bob@example.com                      # hashes brought from Dovecot (doveadm pw):
 *     password: "{SHA512-CRYPT}$6$<salt>$<hash>"    # also {BLF-CRYPT}, {ARGON2ID}, see ./password-schemes.ts
 *     quota: { bytes: 1073741824, messages: 100000 }
 *     aliases: [ali@example.com]
 *     disabled: false
 * ```
 */
const addressSchema = z
  .string()
  .trim()
  .min(3)
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must look like local@domain');

const userSchema = z
  .object({
    address: addressSchema,
    password: z.string().superRefine((hash, ctx) => {
      const problem = passwordHashProblem(hash);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    quota: z
      .object({
        bytes: z.number().int().nonnegative().optional(),
        messages: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
    aliases: z.array(addressSchema).optional(),
    disabled: z.boolean().optional(),
  })
  .strict();

export const usersFileSchema = z
  .object({ users: z.array(userSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.users.forEach((u, i) => {
      for (const a of [u.address, ...(u.aliases ?? [])]) {
        const key = normalizeAddress(a);
        // The domain's shared pseudo-owner (IMAP Shared/) must never log in or be named by an alias.
        if (isSharedOwner(key)) ctx.addIssue({ code: 'custom', path: ['users', i], message: `the local part ${SHARED_OWNER_LOCAL_PART} is reserved for the domain's shared folders` });
        const prev = seen.get(key);
        if (prev !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['users', i], message: `address ${key} already used by users[${prev}]` });
        }
        seen.set(key, i);
      }
    });
  });


interface Entry {
  user: DirectoryUser;
  hash: string;
  disabled: boolean;
}

/**
 * Parses and validates users-file text. Bad input throws ConfigFileError (the
 * operator's file, like the runtime config), naming the file and every bad field.
 */
export function parseUsersFile(text: string, fileName = 'users file'): Map<string, Entry> {
  const what = `users file ${fileName}`;
  let raw: unknown;
  try {
    raw = fileName.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigFileError(what, [{ path: '(syntax)', message: `not valid ${fileName.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]!}` }]);
  }
  const res = usersFileSchema.safeParse(raw ?? { users: [] });
  if (!res.success) throw new ConfigFileError(what, problemsFromZod(res.error));
  const byAddress = new Map<string, Entry>();
  for (const u of res.data.users) {
    const entry: Entry = {
      user: { address: normalizeAddress(u.address), ...(u.quota ? { quota: { ...u.quota } } : {}) },
      hash: u.password,
      disabled: u.disabled ?? false,
    };
    byAddress.set(entry.user.address, entry);
    for (const a of u.aliases ?? []) byAddress.set(normalizeAddress(a), entry);
  }
  return byAddress;
}

export interface FileDirectoryOptions {
  file: string;
  log?: Logger;
}

/**
 * Directory backed by a local users file. The file is re-read when its
 * mtime/size/inode change (checked on each call, so an atomic rename by an
 * editor or config manager is seen too). A file that stops validating keeps
 * the last good contents and logs why: a typo must not lock everyone out.
 */
export class FileDirectory implements Directory {
  private entries = new Map<string, Entry>();
  private signature = '';
  private loading: Promise<void> | undefined;

  private constructor(private readonly opts: FileDirectoryOptions) {}

  /** Loads the file once (failing loudly if it is invalid) and returns the directory. */
  static async open(opts: FileDirectoryOptions): Promise<FileDirectory> {
    const dir = new FileDirectory(opts);
    await dir.reload(true);
    return dir;
  }

  /** Number of distinct addresses (users and aliases). */
  get size(): number {
    return this.entries.size;
  }

  /** Re-reads the file if it changed. `strict` throws on invalid content instead of keeping the old one. */
  async reload(strict = false): Promise<void> {
    const st = await stat(this.opts.file);
    const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (sig === this.signature) return;
    const text = await readFile(this.opts.file, 'utf8');
    try {
      this.entries = parseUsersFile(text, this.opts.file);
      this.signature = sig;
      this.opts.log?.info({ file: this.opts.file, addresses: this.entries.size }, 'users file loaded');
    } catch (err) {
      if (strict) throw err;
      this.signature = sig; // do not re-parse the same broken file on every login
      this.opts.log?.error({ file: this.opts.file, err }, 'users file invalid; keeping previous users');
    }
  }

  private async fresh(): Promise<void> {
    this.loading ??= this.reload().catch((err: unknown) => {
      this.opts.log?.error({ file: this.opts.file, err }, 'users file unreadable; keeping previous users');
    });
    try {
      await this.loading;
    } finally {
      this.loading = undefined;
    }
  }

  async authenticate(user: string, password: string, ctx: AuthContext): Promise<DirectoryUser | null> {
    await this.fresh();
    const checks = ctx.passwords ?? DIRECT_PASSWORD_CHECKS;
    const entry = this.entries.get(normalizeAddress(user));
    if (!entry) return checks.unknownUser(password).then(() => null);
    const ok = await checks.verify(password, entry.hash);
    if (!ok || entry.disabled) return null;
    return { ...entry.user, ...(entry.user.quota ? { quota: { ...entry.user.quota } } : {}) };
  }

  async lookup(address: string): Promise<DirectoryUser | null> {
    await this.fresh();
    const entry = this.entries.get(normalizeAddress(address));
    if (!entry || entry.disabled) return null;
    return { ...entry.user, ...(entry.user.quota ? { quota: { ...entry.user.quota } } : {}) };
  }

  async close(): Promise<void> {
    /* nothing held: reload is checked lazily on use */
  }
}

/** A directory over a fixed in-memory list, for embedding and tests. */
export class StaticDirectory implements Directory {
  constructor(private readonly entries: Map<string, Entry>) {}

  static fromText(text: string, fileName = 'users.yaml'): StaticDirectory {
    return new StaticDirectory(parseUsersFile(text, fileName));
  }

  async authenticate(user: string, password: string, ctx?: AuthContext): Promise<DirectoryUser | null> {
    const checks = ctx?.passwords ?? DIRECT_PASSWORD_CHECKS;
    const entry = this.entries.get(normalizeAddress(user));
    if (!entry) return checks.unknownUser(password).then(() => null);
    return (await checks.verify(password, entry.hash)) && !entry.disabled ? { ...entry.user } : null;
  }

  async lookup(address: string): Promise<DirectoryUser | null> {
    const entry = this.entries.get(normalizeAddress(address));
    return entry && !entry.disabled ? { ...entry.user } : null;
  }
}
