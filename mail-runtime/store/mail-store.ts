import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { guard } from './errors';
import { sharedFileReader } from './file-reader';
import { META_DIR } from './folder';
import { newStats, readFileOrNull, type StoreContext } from './fsutil';
import { parseStored, UserMetaFile } from './on-disk';
import { parseAddress, userDirOf } from './names';
import { StoreError, type MailStoreOptions, type OpenUserOptions, type StoreStats, type UserMailbox } from './types';
import { UserMailboxImpl, UserState } from './user';

/** Maildir spec: "/" and ":" in the host part are written as \057 and \072. */
function maildirHost(): string {
  return os.hostname().replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/[^\x21-\x7e]/g, '_') || 'localhost';
}

/**
 * Entry point of the store. One per process (per node): it is the registry
 * that hands every session the same live UserState and Folder objects, so
 * sessions see each other's changes as events. Two MailStore instances on
 * one root behave like two nodes (each with its own epoch).
 */
export class MailStore {
  readonly root: string;
  private readonly ctx: StoreContext;
  private readonly users = new Map<string, Promise<UserState>>();
  private closed = false;

  constructor(opts: MailStoreOptions) {
    if (typeof opts.root !== 'string' || opts.root === '') throw new StoreError('CANNOT', 'store root must be a non-empty path');
    const max = opts.maxMessageBytes;
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) throw new StoreError('CANNOT', 'maxMessageBytes must be a positive integer');
    this.root = path.resolve(opts.root);
    this.ctx = { stats: newStats(), logger: opts.logger, analyze: opts.analyze, ...(opts.analyze && opts.searchFields ? { searchFields: opts.searchFields } : {}), host: maildirHost(), maxMessageBytes: max, files: sharedFileReader() };
  }

  /** Monotonic counters (fsyncs, commits, body reads) for metrics and tests. */
  get stats(): Readonly<StoreStats> {
    return this.ctx.stats;
  }

  openUser(address: string, opts: OpenUserOptions): Promise<UserMailbox> {
    return guard(this.ctx, 'open mailbox', { user: address }, () => this.open(address, opts));
  }

  private async open(address: string, opts: OpenUserOptions): Promise<UserMailbox> {
    if (this.closed) throw new StoreError('CANNOT', 'store is closed');
    if (!opts || !Number.isSafeInteger(opts.epoch) || opts.epoch < 0) throw new StoreError('CANNOT', 'openUser needs a non-negative integer epoch');
    validateQuota(opts.quota);
    const parsed = parseAddress(address);
    const key = parsed.address;
    const existing = this.users.get(key);
    if (existing) {
      const user = await existing.catch(() => null);
      if (user && !user.owner.fenced && user.owner.epoch === opts.epoch) {
        if (opts.quota) user.quota = opts.quota;
        return new UserMailboxImpl(user);
      }
      if (user && user.owner.epoch > opts.epoch) throw new StoreError('STALE_EPOCH', `epoch ${opts.epoch} is older than ${user.owner.epoch}`);
      // A newer epoch (or a fenced state being reopened): the old objects die.
      if (user) user.fenceAll();
      if (this.users.get(key) === existing) this.users.delete(key);
    }
    const user = new UserState(this.ctx, key, userDirOf(this.root, parsed), opts);
    const loading = user.init().then(() => user);
    this.users.set(key, loading);
    user.setIdleCallback(() => {
      if (this.users.get(key) === loading) this.users.delete(key);
    });
    try {
      await loading;
    } catch (e) {
      if (this.users.get(key) === loading) this.users.delete(key);
      throw e;
    }
    return new UserMailboxImpl(user);
  }

  /**
   * Ownership of this mailbox moved away (placement) or this node's lease
   * lapsed: every live folder object dies (`gone` with reason `fenced`, so
   * IMAP sessions get BYE) and every later write through the old objects is
   * refused. Opening again needs the epoch the caller holds then.
   */
  fence(address: string, reason: string): void {
    let key: string;
    try {
      key = parseAddress(address).address;
    } catch {
      return;
    }
    const p = this.users.get(key);
    if (!p) return;
    // Not removed from the map: open() replaces a fenced state, and this
    // continuation runs before any open() that awaits the same promise.
    void p.then(
      (u) => u.fenceAll(reason),
      () => undefined,
    );
  }

  /**
   * Hands a mailbox over (a placement move): waits until the writes already
   * queued have finished, then fences it like fence(). The caller makes
   * `canWrite()` answer false first, so nothing new starts meanwhile and
   * what was acknowledged is all the next owner finds (no duplicate from a
   * write that landed but was refused).
   */
  async release(address: string, reason: string): Promise<void> {
    let key: string;
    try {
      key = parseAddress(address).address;
    } catch {
      return;
    }
    const p = this.users.get(key);
    if (!p) return;
    const user = await p.catch(() => null);
    if (!user) return;
    await user.settle();
    user.fenceAll(reason);
  }

  /**
   * Addresses with a mailbox on storage in `domain` (at most `max`, sorted), read from the
   * directory names: no mailbox is opened. Used to find who may have shared folders.
   */
  async usersOfDomain(domain: string, max: number): Promise<string[]> {
    let dir: string;
    try {
      dir = path.dirname(userDirOf(this.root, parseAddress(`x@${domain}`)));
    } catch {
      return [];
    }
    const names = await guard(this.ctx, 'list users', { domain }, async () => {
      try {
        return await fs.promises.readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    });
    const out: string[] = [];
    for (const n of names.sort()) {
      if (out.length >= max) break;
      try {
        out.push(parseAddress(`${n}@${domain}`).address);
      } catch {
        // not a mailbox directory of ours
      }
    }
    return out;
  }

  /**
   * The identifiers a user's ACLs name (RFC 4314), read from her user.json
   * without opening the mailbox (no epoch claimed, nothing written): LIST
   * asks it to find who shares folders with whom. Empty when she has none
   * or no mailbox yet; CORRUPT if the file is damaged.
   */
  async aclIdentifiers(address: string): Promise<Set<string>> {
    const dir = userDirOf(this.root, parseAddress(address));
    const file = path.join(dir, META_DIR, 'user', 'user.json');
    const raw = await guard(this.ctx, 'read ACLs', { user: address }, () => readFileOrNull(file));
    const ids = new Set<string>();
    if (!raw) return ids;
    const meta = parseStored(UserMetaFile, raw.toString('utf8'), file);
    for (const entry of Object.values(meta.acl ?? {})) for (const id of Object.keys(entry)) ids.add(id);
    return ids;
  }

  /** Finish pending writes and release every file handle. */
  async close(): Promise<void> {
    this.closed = true;
    const users = await Promise.all([...this.users.values()].map((p) => p.catch(() => null)));
    this.users.clear();
    for (const u of users) if (u) await u.shutdownAll();
  }
}

function validateQuota(q: OpenUserOptions['quota']): void {
  if (q === undefined) return;
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0)) throw new StoreError('CANNOT', `quota.${k} must be a non-negative integer`);
  }
}
