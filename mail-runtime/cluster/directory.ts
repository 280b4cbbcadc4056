import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { hashPassword, normalizeAddress, verifyPassword, type AuthContext, type Directory, type DirectoryUser, type Identity } from '../auth';
import { writeFileAtomic } from '../common/atomic-file';
import { monotonicMs } from '../common/clock';
import type { Logger } from '../common/log';
import { IdentityAnswer, MemberUser, MemberUserAnswer } from '../hub/protocol';
import { HubUnreachableError, type HubClient } from './hub-client';

/**
 * The auth Directory of a member, backed by the hub with a local cache: a
 * node fetches a user when it first logs in (the users it owns, not the
 * whole directory), checks the password itself against the cached scrypt
 * hash, and keeps the entry until the hub says it changed (stream
 * `directory` events). While no hub answers, cached entries keep working,
 * also after a restart (the cache is written to the storage); a user never
 * seen before is then "unavailable", never "wrong password".
 */

export class DirectoryUnavailableError extends Error {
  constructor(address: string, cause: unknown) {
    super(`directory unavailable for ${address}: no hub reachable and no cached entry`, { cause });
    this.name = 'DirectoryUnavailableError';
  }
}

/** Thrown by authenticate for a mailbox another node serves (the Authenticator answers "unavailable": the client retries, a proxy routes anew). */
export class NotServedHereError extends Error {
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`mailbox ${address} is not served by this node now (${reason})`);
    this.name = 'NotServedHereError';
  }
}

export interface HubDirectoryOptions {
  client: HubClient;
  log: Logger;
  /** Where the cache is kept across restarts (`<storage>/members/<id>/directory-cache.json`). */
  cacheFile?: string;
  /** Timeout of one lookup at the hub. */
  timeoutMs: () => number;
  /** Nodes: undefined when this node serves the mailbox now, else why not. */
  notServed?: (address: string) => string | undefined;
  /** Settings `blocklist.ips`: logins from these addresses are refused. */
  blocked?: (ip: string) => boolean;
}

interface Entry {
  user: MemberUser | null;
  at: number;
  stale: boolean;
}

/** An unknown address is asked again after this long (limits the hub load of guessed names). */
export const NEGATIVE_TTL_MS = 30_000;
/** A known user is asked again after this long even without a change event (a missed event heals). */
export const POSITIVE_TTL_MS = 10 * 60_000;
/** Entries kept; beyond it the oldest are dropped (a node serves its own users, far fewer than the directory). */
export const CACHE_MAX_ENTRIES = 200_000;
/** The cache file is rewritten at most this often. */
const PERSIST_EVERY_MS = 5000;

export class HubDirectory implements Directory {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<MemberUser | null>>();
  private dirty = false;
  private persistTimer: NodeJS.Timeout | undefined;
  private dummy: Promise<string> | undefined;

  constructor(private readonly o: HubDirectoryOptions) {}

  /** Loads the persisted cache (entries marked stale: the hub is asked first when it answers). */
  async load(): Promise<void> {
    if (!this.o.cacheFile) return;
    let text: string;
    try {
      text = await fs.readFile(this.o.cacheFile, 'utf8');
    } catch {
      return;
    }
    try {
      const rows = JSON.parse(text) as unknown[];
      const now = monotonicMs();
      for (const r of rows) {
        const u = MemberUser.safeParse(r);
        if (u.success) this.cache.set(u.data.address, { user: u.data, at: now, stale: true });
      }
      this.o.log.info({ users: this.cache.size }, 'directory cache loaded');
    } catch (err) {
      this.o.log.warn({ err }, 'directory cache unreadable; starting empty');
    }
  }

  async close(): Promise<void> {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    await this.persist();
  }

  /** Directory change from the hub: drop the named entries, or mark everything stale. */
  invalidate(change: { changed: readonly string[]; reset: boolean }): void {
    if (change.reset) for (const e of this.cache.values()) e.stale = true;
    for (const a of change.changed) this.cache.delete(a);
  }

  async authenticate(user: string, password: string, ctx: AuthContext): Promise<DirectoryUser | null> {
    if (this.o.blocked?.(ctx.ip)) {
      await this.burn(password, ctx);
      return null;
    }
    const u = await this.find(user);
    if (!u) {
      await this.burn(password, ctx);
      return null;
    }
    // Through the login's checks when given (the node's bounded pool and its verified-credential cache), as the other directories do.
    const ok = ctx.passwords ? await ctx.passwords.verify(password, u.passwordHash) : await verifyPassword(password, u.passwordHash);
    if (!ok || !u.enabled) return null;
    const why = this.o.notServed?.(u.address);
    if (why !== undefined) throw new NotServedHereError(u.address, why);
    return toDirectoryUser(u);
  }

  async lookup(address: string): Promise<DirectoryUser | null> {
    const u = await this.find(address);
    return u && u.enabled ? toDirectoryUser(u) : null;
  }

  /**
   * What an ACL identifier names, asked of the hub each time (SETACL is
   * rare; nothing cached, so a grant never rests on a stale alias). No hub:
   * DirectoryUnavailableError (the IMAP command answers a temporary NO).
   */
  async identify(address: string): Promise<Identity> {
    const key = normalizeAddress(address);
    try {
      const a = await this.o.client.call('GET', `/v1/cluster/identities/${encodeURIComponent(key)}`, undefined, IdentityAnswer, this.o.timeoutMs());
      return a.identity;
    } catch (err) {
      if (err instanceof HubUnreachableError) throw new DirectoryUnavailableError(key, err);
      throw err;
    }
  }

  /** The same work as a real check, so response time does not tell which addresses exist. */
  private async burn(password: string, ctx: AuthContext): Promise<void> {
    if (ctx.passwords) {
      await ctx.passwords.unknownUser(password);
      return;
    }
    this.dummy ??= hashPassword('not-a-real-password');
    await verifyPassword(password, await this.dummy);
  }

  private async find(address: string): Promise<MemberUser | null> {
    const key = normalizeAddress(address);
    const c = this.cache.get(key);
    const age = c ? monotonicMs() - c.at : Infinity;
    if (c && !c.stale && age < (c.user ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS)) return c.user;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    try {
      return await p;
    } catch (err) {
      if (c) return c.user; // the hub is away: what we knew still holds (hub off the data path)
      if (err instanceof HubUnreachableError) throw new DirectoryUnavailableError(key, err);
      throw err;
    }
  }

  private async fetch(key: string): Promise<MemberUser | null> {
    const a = await this.o.client.call('GET', `/v1/cluster/users/${encodeURIComponent(key)}`, undefined, MemberUserAnswer, this.o.timeoutMs());
    this.remember(key, a.user);
    // The hub canonicalises (alias domains): remember under the mailbox address too.
    if (a.user && a.user.address !== key) this.remember(a.user.address, a.user);
    return a.user;
  }

  private remember(key: string, user: MemberUser | null): void {
    this.cache.delete(key);
    this.cache.set(key, { user, at: monotonicMs(), stale: false });
    while (this.cache.size > CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    if (user) this.schedulePersist();
  }

  private schedulePersist(): void {
    this.dirty = true;
    if (this.persistTimer || !this.o.cacheFile) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.persist();
    }, PERSIST_EVERY_MS);
    this.persistTimer.unref();
  }

  private async persist(): Promise<void> {
    const file = this.o.cacheFile;
    if (!file || !this.dirty) return;
    this.dirty = false;
    const users = [...this.cache.values()].map((e) => e.user).filter((u): u is MemberUser => u !== null);
    try {
      await fs.mkdir(dirname(file), { recursive: true });
      await writeFileAtomic(file, JSON.stringify(users));
    } catch (err) {
      this.o.log.warn({ err }, 'directory cache could not be written');
    }
  }
}

function toDirectoryUser(u: MemberUser): DirectoryUser {
  return { address: u.address, ...(u.quota ? { quota: { ...u.quota } } : {}) };
}
