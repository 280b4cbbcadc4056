import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Owner } from './epoch';
import { guard } from './errors';
import { FolderImpl, META_DIR, type FolderHost } from './folder';
import { FolderHandle } from './folder-handle';
import { ensureDir, fsyncDir, isDirectory, Mutex, readFileOrNull, readdirOrEmpty, writeFileAtomic, type StoreContext } from './fsutil';
import { folderNameFromDisk, folderPath, isDescendant, normalizeFolderName, parentOf } from './names';
import { parseStored, SPECIAL_USES, UserMetaFile } from './on-disk';
import {
  StoreError,
  type Folder,
  type FolderInfo,
  type OpenUserOptions,
  type QuotaInfo,
  type QuotaLimits,
  type SpecialUse,
  type UserMailbox,
} from './types';

/**
 * One user's mailbox as seen by this process: the ownership token, the
 * registry of live folders (one shared object per folder, reference
 * counted), quota accounting and the folder list.
 *
 * User-level files live in `<user>/mailfleet/user/`:
 *   epochs/<n>   ownership markers (see ./epoch)
 *   user.json    subscriptions and special-use attributes
 */

/** Created for every user on first open (RFC 6154). */
const DEFAULT_FOLDERS: readonly [string, SpecialUse][] = [
  ['Sent', '\\Sent'],
  ['Drafts', '\\Drafts'],
  ['Trash', '\\Trash'],
  ['Junk', '\\Junk'],
  ['Archive', '\\Archive'],
];

type UserMeta = UserMetaFile;

/**
 * One live folder in the registry. `refs` counts the open FolderHandles and
 * is changed only here (acquire / release): the single owner of the count.
 */
interface Entry {
  folder: FolderImpl | null;
  loading: Promise<FolderImpl>;
  refs: number;
  /** The last handle went: the folder is shutting down (or has). */
  released: boolean;
}

export class UserState implements FolderHost {
  readonly owner: Owner;
  readonly metaDir: string;
  quota: QuotaLimits;
  handles = 0;
  private meta: UserMeta = { v: 1, subscriptions: [], specialUse: {} };
  private readonly folders = new Map<string, Entry>();
  private readonly closing = new Map<string, Promise<void>>();
  private readonly mutex = new Mutex();
  private usage: { bytes: number; messages: number } | null = null;
  private usageLoading: Promise<void> | null = null;
  private reserved = { bytes: 0, messages: 0 };
  private onIdle: (() => void) | null = null;

  constructor(
    readonly ctx: StoreContext,
    readonly address: string,
    readonly dir: string,
    opts: OpenUserOptions,
  ) {
    this.metaDir = path.join(dir, META_DIR, 'user');
    this.owner = new Owner(ctx, path.join(this.metaDir, 'epochs'), opts.epoch, opts.stillOwner, opts.canWrite);
    this.quota = opts.quota ?? {};
  }

  /** Called by the store when handles and folders are all gone. */
  setIdleCallback(cb: () => void): void {
    this.onIdle = cb;
  }

  async init(): Promise<void> {
    await ensureDir(this.ctx, this.dir);
    await this.owner.claim();
    // Leftovers of a crash: staged folder creations, deletions in progress, temp files.
    for (const e of await readdirOrEmpty(this.metaDir)) {
      if (/^(new-folder|deleted)\.[0-9a-f]+$/.test(e) || /^\..*\.tmp$/.test(e)) {
        await fs.promises.rm(path.join(this.metaDir, e), { recursive: true, force: true });
      }
    }
    for (const sub of ['cur', 'new', 'tmp']) await fs.promises.mkdir(path.join(this.dir, sub), { recursive: true, mode: 0o700 });
    const metaFile = path.join(this.metaDir, 'user.json');
    const raw = await readFileOrNull(metaFile);
    if (raw) {
      // Refused when damaged (CORRUPT names the file and field): a default
      // would silently drop the user's subscriptions and special-use folders.
      this.meta = parseStored(UserMetaFile, raw.toString('utf8'), metaFile);
      return;
    }
    // First open: the RFC 6154 special-use set, all subscribed.
    for (const [name, use] of DEFAULT_FOLDERS) {
      if (!(await isDirectory(folderPath(this.dir, name)))) await this.makeMaildir(name);
      this.meta.specialUse[name] = use;
    }
    this.meta.subscriptions = ['INBOX', ...DEFAULT_FOLDERS.map(([n]) => n)];
    await this.saveMeta();
  }

  private async saveMeta(): Promise<void> {
    await this.owner.checkBeforeWrite();
    await writeFileAtomic(this.ctx, path.join(this.metaDir, 'user.json'), JSON.stringify(this.meta));
    await this.owner.checkAfterWrite();
  }

  /** Create an empty Maildir atomically: build it aside, then rename it into place. */
  private async makeMaildir(name: string): Promise<void> {
    const target = folderPath(this.dir, name);
    const staging = path.join(this.metaDir, `new-folder.${randomBytes(6).toString('hex')}`);
    for (const sub of ['cur', 'new', 'tmp']) await fs.promises.mkdir(path.join(staging, sub), { recursive: true, mode: 0o700 });
    // Maildir++: an empty `maildirfolder` file marks a subfolder (MDAs and Dovecot look for it).
    await fs.promises.writeFile(path.join(staging, 'maildirfolder'), '', { mode: 0o600 });
    await fsyncDir(this.ctx, staging);
    try {
      await fs.promises.rename(staging, target);
    } catch (e) {
      await fs.promises.rm(staging, { recursive: true, force: true });
      throw e;
    }
    await fsyncDir(this.ctx, this.dir);
  }

  // -------------------------------------------------------------------------
  // Folder registry

  /** A new handle on the shared folder; the folder stays live until every handle is closed. */
  async acquire(name: string): Promise<FolderHandle> {
    const canonical = normalizeFolderName(name);
    if (this.owner.fenced) throw this.owner.staleError();
    let entry = this.folders.get(canonical);
    if (!entry) {
      const loading = (async () => {
        await this.closing.get(canonical);
        const dir = folderPath(this.dir, canonical);
        if (canonical !== 'INBOX' && !(await isDirectory(path.join(dir, 'cur'))) && !(await isDirectory(dir))) {
          throw new StoreError('NONEXISTENT', `folder ${canonical} does not exist`);
        }
        return FolderImpl.load(this, canonical, dir);
      })();
      entry = { folder: null, loading, refs: 0, released: false };
      this.folders.set(canonical, entry);
      const e = entry;
      loading.then(
        (f) => {
          e.folder = f;
        },
        () => {
          if (this.folders.get(canonical) === e) this.folders.delete(canonical);
          this.maybeIdle();
        },
      );
    }
    // Counted before waiting: a handle closed meanwhile must not shut the
    // folder down under this opener.
    const e = entry;
    e.refs++;
    let folder: FolderImpl;
    try {
      folder = await e.loading;
    } catch (err) {
      e.refs--;
      throw err;
    }
    return new FolderHandle(folder, () => this.release(e, folder));
  }

  /** A handle was closed (each handle calls this once). The last one shuts the folder down. */
  private release(entry: Entry, folder: FolderImpl): void {
    entry.refs--;
    if (entry.refs > 0 || entry.released) return;
    entry.released = true;
    const name = folder.name;
    if (this.folders.get(name) === entry) this.folders.delete(name);
    const p = folder.shutdown().catch((err: unknown) => this.ctx.logger?.warn({ err, folder: name, user: this.address }, 'folder shutdown failed'));
    this.closing.set(name, p);
    void p.then(() => {
      if (this.closing.get(name) === p) this.closing.delete(name);
      this.maybeIdle();
    });
  }

  forgetFolder(folder: FolderImpl): void {
    const entry = this.folders.get(folder.name);
    if (entry && entry.folder === folder) this.folders.delete(folder.name);
    // The usage may have diverged from disk; recount when next needed.
    this.usage = null;
  }

  private maybeIdle(): void {
    if (this.handles === 0 && this.folders.size === 0 && this.closing.size === 0) this.onIdle?.();
  }

  handleClosed(): void {
    this.handles--;
    this.maybeIdle();
  }

  /** Resolves once every write queued on a live folder before this call has finished (acknowledged or refused). */
  async settle(): Promise<void> {
    const folders = [...this.folders.values()].map((e) => e.folder).filter((f): f is FolderImpl => f !== null);
    await Promise.all(folders.map((f) => f.runExclusive(async () => undefined).catch(() => undefined)));
  }

  /** A newer epoch took over in this process, or ownership moved away: every live folder dies. */
  fenceAll(reason = 'a newer epoch opened this mailbox'): void {
    this.owner.fence(reason);
    for (const e of [...this.folders.values()]) e.folder?.markFenced();
  }

  async shutdownAll(): Promise<void> {
    const entries = [...this.folders.values()];
    for (const e of entries) e.released = true; // handles closed later release nothing more
    const live = entries.map((e) => e.loading.catch(() => null));
    this.folders.clear();
    for (const f of await Promise.all(live)) if (f) await f.shutdown();
    await Promise.all(this.closing.values());
  }

  // -------------------------------------------------------------------------
  // Quota

  private async ensureUsage(): Promise<{ bytes: number; messages: number }> {
    while (this.usage === null) {
      this.usageLoading ??= (async () => {
        const names = (await this.listFolderNames()).filter((n) => n.selectable).map((n) => n.name);
        const opened: FolderHandle[] = [];
        try {
          for (const n of names) {
            try {
              opened.push(await this.acquire(n));
            } catch (e) {
              if (!(e instanceof StoreError && e.code === 'NONEXISTENT')) throw e;
            }
          }
          let bytes = 0;
          let messages = 0;
          for (const f of opened) {
            for (const m of f.messages()) bytes += m.size;
            messages += f.messages().length;
          }
          this.usage = { bytes, messages };
        } finally {
          for (const f of opened) await f.close();
        }
      })().finally(() => {
        this.usageLoading = null;
      });
      await this.usageLoading;
    }
    return this.usage;
  }

  async reserveQuota(bytes: number, messages: number): Promise<() => void> {
    const { storageBytes, messages: maxMessages } = this.quota;
    if (storageBytes === undefined && maxMessages === undefined) return () => undefined;
    const usage = await this.ensureUsage();
    if (storageBytes !== undefined && usage.bytes + this.reserved.bytes + bytes > storageBytes) {
      throw new StoreError('OVERQUOTA', `storage quota of ${storageBytes} bytes would be exceeded`);
    }
    if (maxMessages !== undefined && usage.messages + this.reserved.messages + messages > maxMessages) {
      throw new StoreError('OVERQUOTA', `message quota of ${maxMessages} would be exceeded`);
    }
    this.reserved.bytes += bytes;
    this.reserved.messages += messages;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved.bytes -= bytes;
      this.reserved.messages -= messages;
    };
  }

  usageDelta(bytes: number, messages: number): void {
    if (this.usage) {
      this.usage.bytes += bytes;
      this.usage.messages += messages;
    }
  }

  async getQuota(): Promise<QuotaInfo> {
    const u = await this.ensureUsage();
    const q: QuotaInfo = { storageUsed: u.bytes, messagesUsed: u.messages };
    if (this.quota.storageBytes !== undefined) q.storageLimit = this.quota.storageBytes;
    if (this.quota.messages !== undefined) q.messagesLimit = this.quota.messages;
    return q;
  }

  // -------------------------------------------------------------------------
  // Folder list and management

  /** Real folders on disk (selectable) plus INBOX. */
  private async listFolderNames(): Promise<{ name: string; selectable: boolean }[]> {
    const out = [{ name: 'INBOX', selectable: true }];
    for (const e of await readdirOrEmpty(this.dir)) {
      const name = folderNameFromDisk(e);
      if (name !== null && (await isDirectory(path.join(this.dir, e)))) out.push({ name, selectable: true });
    }
    return out;
  }

  private async exists(canonical: string): Promise<boolean> {
    return canonical === 'INBOX' || (await isDirectory(folderPath(this.dir, canonical)));
  }

  async listFolders(): Promise<FolderInfo[]> {
    const real = new Set((await this.listFolderNames()).map((n) => n.name));
    const all = new Set(real);
    for (const n of real) for (let p = parentOf(n); p !== null; p = parentOf(p)) all.add(p);
    const subs = new Set(this.meta.subscriptions);
    const names = [...all].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    return names.map((name) => {
      const hasChildren = names.some((o) => isDescendant(o, name));
      const flags = [hasChildren ? '\\HasChildren' : '\\HasNoChildren'];
      if (!real.has(name)) flags.unshift('\\Noselect');
      const info: FolderInfo = { name, subscribed: subs.has(name), flags };
      const use = this.meta.specialUse[name];
      if (use && real.has(name)) info.specialUse = use;
      return info;
    });
  }

  listSubscriptions(): string[] {
    return [...this.meta.subscriptions];
  }

  createFolder(name: string, opts: { specialUse?: SpecialUse } = {}): Promise<void> {
    const canonical = normalizeFolderName(name);
    if (opts.specialUse !== undefined && !SPECIAL_USES.includes(opts.specialUse)) {
      throw new StoreError('CANNOT', `unsupported special-use attribute ${String(opts.specialUse)}`);
    }
    return this.mutex.run(async () => {
      await this.owner.checkBeforeWrite();
      if (await this.exists(canonical)) throw new StoreError('ALREADYEXISTS', `folder ${canonical} already exists`);
      // RFC 3501 §6.3.3: create the superior names that are needed.
      const chain: string[] = [];
      for (let p = parentOf(canonical); p !== null; p = parentOf(p)) chain.unshift(p);
      for (const p of chain) if (!(await this.exists(p))) await this.makeMaildir(p);
      await this.makeMaildir(canonical);
      if (opts.specialUse) {
        this.meta.specialUse[canonical] = opts.specialUse;
        await this.saveMeta();
      } else await this.owner.checkAfterWrite();
    });
  }

  deleteFolder(name: string): Promise<void> {
    const canonical = normalizeFolderName(name);
    if (canonical === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
    return this.mutex.run(async () => {
      await this.owner.checkBeforeWrite();
      if (!(await this.exists(canonical))) throw new StoreError('NONEXISTENT', `folder ${canonical} does not exist`);
      const dir = folderPath(this.dir, canonical);
      const trash = path.join(this.metaDir, `deleted.${randomBytes(6).toString('hex')}`);
      const move = async () => {
        await fs.promises.rename(dir, trash);
        await fsyncDir(this.ctx, this.dir);
      };
      const open = await this.openEntry(canonical);
      if (open) {
        await open.runExclusive(async () => {
          await move();
          open.markDeleted();
        });
      } else await move();
      this.usage = null;
      await fs.promises.rm(trash, { recursive: true, force: true });
      // The folder's ACL goes with it (RFC 4314 §3: rights belong to the mailbox, a new one starts with none).
      if (this.meta.specialUse[canonical] || this.meta.acl?.[canonical]) {
        delete this.meta.specialUse[canonical];
        if (this.meta.acl) delete this.meta.acl[canonical];
        await this.saveMeta();
      } else await this.owner.checkAfterWrite();
    });
  }

  private async openEntry(canonical: string): Promise<FolderImpl | null> {
    const e = this.folders.get(canonical);
    if (!e) {
      await this.closing.get(canonical);
      return null;
    }
    try {
      return await e.loading;
    } catch {
      return null;
    }
  }

  renameFolder(from: string, to: string): Promise<void> {
    const src = normalizeFolderName(from);
    const dst = normalizeFolderName(to);
    if (dst === 'INBOX') throw new StoreError('ALREADYEXISTS', 'INBOX already exists');
    if (src === dst) throw new StoreError('ALREADYEXISTS', `folder ${dst} already exists`);
    if (src !== 'INBOX' && isDescendant(dst, src)) throw new StoreError('CANNOT', 'cannot rename a folder into itself');
    if (src === 'INBOX') return this.renameInbox(dst);
    return this.mutex.run(async () => {
      await this.owner.checkBeforeWrite();
      if (!(await this.exists(src))) throw new StoreError('NONEXISTENT', `folder ${src} does not exist`);
      if (await this.exists(dst)) throw new StoreError('ALREADYEXISTS', `folder ${dst} already exists`);
      const moves = (await this.listFolderNames())
        .map((n) => n.name)
        .filter((n) => n === src || isDescendant(n, src))
        .map((n) => [n, dst + n.slice(src.length)] as const);
      for (const [, n] of moves) {
        normalizeFolderName(n); // depth/length limits for the renamed children too
        if (await this.exists(n)) throw new StoreError('ALREADYEXISTS', `folder ${n} already exists`);
      }
      for (let p = parentOf(dst); p !== null; p = parentOf(p)) if (!(await this.exists(p))) await this.makeMaildir(p);
      for (const [o, n] of moves) {
        const oldDir = folderPath(this.dir, o);
        const newDir = folderPath(this.dir, n);
        const open = await this.openEntry(o);
        if (open) {
          await open.runExclusive(async () => {
            await fs.promises.rename(oldDir, newDir);
            open.relocate(n, newDir);
          });
          const e = this.folders.get(o);
          this.folders.delete(o);
          if (e) this.folders.set(n, e);
        } else await fs.promises.rename(oldDir, newDir);
      }
      await fsyncDir(this.ctx, this.dir);
      const rename = (n: string) => (n === src || isDescendant(n, src) ? dst + n.slice(src.length) : n);
      this.meta.subscriptions = [...new Set(this.meta.subscriptions.map(rename))];
      const su: Record<string, SpecialUse> = {};
      for (const [k, v] of Object.entries(this.meta.specialUse)) su[rename(k)] = v;
      this.meta.specialUse = su;
      // ACLs follow the folder and its children.
      if (this.meta.acl) {
        const acl: Record<string, Record<string, string>> = {};
        for (const [k, v] of Object.entries(this.meta.acl)) acl[rename(k)] = v;
        this.meta.acl = acl;
      }
      await this.saveMeta();
    });
  }

  /** RFC 3501 §6.3.5: renaming INBOX moves its messages to a new folder; INBOX stays, empty, and its children stay. */
  private async renameInbox(dst: string): Promise<void> {
    await this.createFolder(dst);
    const inbox = await this.acquire('INBOX');
    try {
      const target = await this.acquire(dst);
      try {
        await inbox.move(
          inbox.messages().map((m) => m.uid),
          target,
        );
      } finally {
        await target.close();
      }
    } finally {
      await inbox.close();
    }
  }

  async getAcl(name: string): Promise<Record<string, string>> {
    const canonical = normalizeFolderName(name);
    if (!(await this.exists(canonical))) throw new StoreError('NONEXISTENT', `folder ${canonical} does not exist`);
    return { ...(this.meta.acl?.[canonical] ?? {}) };
  }

  /** Stored with the subscriptions in user.json (one atomic write, checked against the epoch like every write). */
  setAcl(name: string, identifier: string, rights: string | null): Promise<void> {
    const canonical = normalizeFolderName(name);
    if (identifier === '' || identifier.length > 320) throw new StoreError('CANNOT', 'invalid ACL identifier');
    if (rights !== null && !/^[lrswipkxtea]*$/.test(rights)) throw new StoreError('CANNOT', 'invalid ACL rights');
    return this.mutex.run(async () => {
      await this.owner.checkBeforeWrite();
      if (!(await this.exists(canonical))) throw new StoreError('NONEXISTENT', `folder ${canonical} does not exist`);
      const acl = { ...(this.meta.acl ?? {}) };
      const entry = { ...(acl[canonical] ?? {}) };
      if (rights) entry[identifier] = rights;
      else delete entry[identifier];
      if (Object.keys(entry).length) acl[canonical] = entry;
      else delete acl[canonical];
      const before = this.meta;
      this.meta = { ...this.meta, acl };
      try {
        await this.saveMeta();
      } catch (err) {
        this.meta = before;
        throw err;
      }
    });
  }

  subscribe(name: string): Promise<void> {
    const canonical = normalizeFolderName(name);
    return this.mutex.run(async () => {
      if (this.meta.subscriptions.includes(canonical)) return;
      this.meta.subscriptions.push(canonical);
      await this.saveMeta();
    });
  }

  unsubscribe(name: string): Promise<void> {
    const canonical = normalizeFolderName(name);
    return this.mutex.run(async () => {
      if (!this.meta.subscriptions.includes(canonical)) throw new StoreError('NONEXISTENT', `${canonical} is not subscribed`);
      this.meta.subscriptions = this.meta.subscriptions.filter((s) => s !== canonical);
      await this.saveMeta();
    });
  }
}

/**
 * A caller's handle on a UserState (one per session), and the store's public
 * boundary for mailbox operations: a failed syscall leaves it as an `IO`
 * StoreError (./errors.ts).
 */
export class UserMailboxImpl implements UserMailbox {
  private closed = false;
  constructor(private readonly user: UserState) {
    user.handles++;
  }
  get address(): string {
    return this.user.address;
  }
  get epoch(): number {
    return this.user.owner.epoch;
  }
  private run<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('CANNOT', 'mailbox handle is closed'));
    if (this.user.owner.fenced) return Promise.reject(this.user.owner.staleError());
    return guard(this.user.ctx, what, { user: this.user.address }, async () => fn());
  }
  listFolders(): Promise<FolderInfo[]> {
    return this.run('list folders', () => this.user.listFolders());
  }
  listSubscriptions(): Promise<string[]> {
    return this.run('list subscriptions', () => this.user.listSubscriptions());
  }
  createFolder(name: string, opts?: { specialUse?: SpecialUse }): Promise<void> {
    return this.run('create folder', () => this.user.createFolder(name, opts));
  }
  deleteFolder(name: string): Promise<void> {
    return this.run('delete folder', () => this.user.deleteFolder(name));
  }
  renameFolder(from: string, to: string): Promise<void> {
    return this.run('rename folder', () => this.user.renameFolder(from, to));
  }
  subscribe(name: string): Promise<void> {
    return this.run('subscribe', () => this.user.subscribe(name));
  }
  unsubscribe(name: string): Promise<void> {
    return this.run('unsubscribe', () => this.user.unsubscribe(name));
  }
  openFolder(name: string): Promise<Folder> {
    return this.run('open folder', () => this.user.acquire(name));
  }
  getQuota(): Promise<QuotaInfo> {
    return this.run('read quota', () => this.user.getQuota());
  }
  getAcl(name: string): Promise<Record<string, string>> {
    return this.run('read ACL', () => this.user.getAcl(name));
  }
  setAcl(name: string, identifier: string, rights: string | null): Promise<void> {
    return this.run('write ACL', () => this.user.setAcl(name, identifier, rights));
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.user.handleClosed();
  }
}
