import type { Statement } from 'better-sqlite3';
import { SHARED_OWNER_LOCAL_PART, type Identity } from '../../auth';
import { getMeta, setMeta, type HubDb } from '../db';
import { badField, conflict, HubError, notFound } from '../errors';
import {
  domainOf,
  localPartOf,
  PAGE_DEFAULT,
  type AliasCreate,
  type Domain,
  type DomainCreate,
  type DomainPlacement,
  type DomainUpdate,
  type MemberUser,
  type Quota,
  type Recipient,
  type User,
  type UserCreate,
  type UserUpdate,
} from '../protocol';

/**
 * The directory: domains (alias domains, catch-all, DKIM reference, default
 * quota, placement mode), users (scrypt hash as mail-runtime/auth/password.ts
 * writes it, quota, enabled, forwarding) and aliases, in directory.sqlite.
 *
 * Every lookup by address is one primary-key probe of a B-tree (O(log n);
 * a million users are ~4 levels). Every change bumps the directory sequence
 * and is reported through `onChange`, which the hub pushes to members so they
 * drop cached entries (`reset` when too many changed to list: an import).
 *
 * All writes go through `write()`, which first asks the lease whether this
 * hub is still the active one (`assertActive`), so a hub that lost its lease
 * never writes (hub/lease).
 */

export interface DirectoryChange {
  seq: number;
  /** Addresses whose answers may have changed; empty with `reset`. */
  changed: string[];
  /** Too many to list (import, domain change): drop every cached entry. */
  reset: boolean;
}

export interface DirectoryOptions {
  /** Throws (not_active) when this hub may not write. */
  assertActive: () => void;
  onChange?: (change: DirectoryChange) => void;
}

interface DomainRow {
  name: string;
  catch_all: string | null;
  dkim: string | null;
  default_quota: string | null;
  placement: string;
}

interface UserRow {
  address: string;
  domain: string;
  password_hash: string;
  quota: string | null;
  enabled: number;
  forward_to: string | null;
  keep_copy: number;
}

/** A user as stored, hash included (hub internal; members get MemberUser). */
export interface StoredUser {
  address: string;
  domain: string;
  passwordHash: string;
  quota: Quota | null;
  enabled: boolean;
  forwardTo: string[];
  keepCopy: boolean;
}

/** Opaque page cursors: the last key of the page, base64url (keys are addresses or domain names). */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined, path = 'query.cursor'): string | undefined {
  if (cursor === undefined) return undefined;
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (key.length === 0 || encodeCursor(key) !== cursor) throw badField(path, 'is not a cursor this API handed out');
  return key;
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
const SEQ_KEY = 'directory_seq';

export class DirectoryStore {
  private readonly s: {
    domain: Statement<[string], DomainRow>;
    domainAliasesOf: Statement<[string], { alias: string }>;
    aliasTarget: Statement<[string], { target: string }>;
    user: Statement<[string], UserRow>;
    alias: Statement<[string], { address: string; domain: string; targets: string }>;
    insertUser: Statement<[string, string, string, string | null, number, string | null, number]>;
    upsertUser: Statement<[string, string, string, string | null, number, string | null, number]>;
    countUsersIn: Statement<[string], { n: number }>;
  };
  private seq: number;
  private importing = false;

  constructor(
    readonly db: HubDb,
    private readonly opts: DirectoryOptions,
  ) {
    this.s = {
      domain: db.prepare('SELECT * FROM domains WHERE name = ?'),
      domainAliasesOf: db.prepare('SELECT alias FROM domain_aliases WHERE target = ? ORDER BY alias'),
      aliasTarget: db.prepare('SELECT target FROM domain_aliases WHERE alias = ?'),
      user: db.prepare('SELECT * FROM users WHERE address = ?'),
      alias: db.prepare('SELECT * FROM aliases WHERE address = ?'),
      insertUser: db.prepare('INSERT INTO users (address, domain, password_hash, quota, enabled, forward_to, keep_copy) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      upsertUser: db.prepare(
        `INSERT INTO users (address, domain, password_hash, quota, enabled, forward_to, keep_copy) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(address) DO UPDATE SET domain = excluded.domain, password_hash = excluded.password_hash, quota = excluded.quota,
           enabled = excluded.enabled, forward_to = excluded.forward_to, keep_copy = excluded.keep_copy`,
      ),
      countUsersIn: db.prepare('SELECT count(*) AS n FROM users WHERE domain = ?'),
    };
    this.seq = Number(getMeta(db, SEQ_KEY) ?? '0');
  }

  /** Directory change sequence (persisted, monotonic across hubs). */
  get sequence(): number {
    return this.seq;
  }

  // ---- writes ----------------------------------------------------------------

  /** Runs one write transaction: lease check first, then the change, the new sequence and the change event. */
  private write<T>(what: (changed: Set<string>) => T, reset = false): T {
    this.opts.assertActive();
    if (this.importing) throw new HubError('conflict', 'a bulk import is running; retry when it has finished');
    const changed = new Set<string>();
    const result = this.db.transaction(() => {
      const r = what(changed);
      setMeta(this.db, SEQ_KEY, String(this.seq + 1));
      return r;
    })();
    this.seq++;
    this.opts.onChange?.({ seq: this.seq, changed: reset ? [] : [...changed], reset });
    return result;
  }

  addDomain(d: DomainCreate): Domain {
    this.write(() => {
      if (this.s.domain.get(d.name)) throw conflict(`domain ${d.name} already exists`, 'body.name');
      if (this.s.aliasTarget.get(d.name)) throw conflict(`${d.name} is already an alias of another domain`, 'body.name');
      this.db
        .prepare('INSERT INTO domains (name, catch_all, dkim, default_quota, placement) VALUES (?, ?, ?, ?, ?)')
        .run(d.name, d.catchAll, d.dkim && JSON.stringify(d.dkim), d.defaultQuota && JSON.stringify(d.defaultQuota), JSON.stringify(d.placement));
      this.setAliases(d.name, d.aliases);
    }, true);
    return this.getDomain(d.name);
  }

  updateDomain(name: string, u: DomainUpdate): Domain {
    this.write(() => {
      const row = this.s.domain.get(name);
      if (!row) throw notFound(`domain ${name}`);
      if (u.catchAll !== undefined) this.db.prepare('UPDATE domains SET catch_all = ? WHERE name = ?').run(u.catchAll, name);
      if (u.dkim !== undefined) this.db.prepare('UPDATE domains SET dkim = ? WHERE name = ?').run(u.dkim && JSON.stringify(u.dkim), name);
      if (u.defaultQuota !== undefined) this.db.prepare('UPDATE domains SET default_quota = ? WHERE name = ?').run(u.defaultQuota && JSON.stringify(u.defaultQuota), name);
      if (u.placement !== undefined) this.db.prepare('UPDATE domains SET placement = ? WHERE name = ?').run(JSON.stringify(u.placement), name);
      if (u.aliases !== undefined) {
        this.db.prepare('DELETE FROM domain_aliases WHERE target = ?').run(name);
        this.setAliases(name, u.aliases);
      }
    }, true);
    return this.getDomain(name);
  }

  private setAliases(target: string, aliases: readonly string[]): void {
    const insert = this.db.prepare('INSERT INTO domain_aliases (alias, target) VALUES (?, ?)');
    aliases.forEach((a, i) => {
      if (a === target) throw badField(`body.aliases[${i}]`, 'a domain cannot be an alias of itself');
      if (this.s.domain.get(a)) throw conflict(`${a} is a domain of its own; remove it before making it an alias`, `body.aliases[${i}]`);
      const other = this.s.aliasTarget.get(a);
      if (other) throw conflict(`${a} is already an alias of ${other.target}`, `body.aliases[${i}]`);
      insert.run(a, target);
    });
  }

  /** Refused while users or aliases remain: removing a domain must not silently drop mailboxes. */
  removeDomain(name: string): void {
    this.write(() => {
      if (!this.s.domain.get(name)) throw notFound(`domain ${name}`);
      const users = this.s.countUsersIn.get(name)!.n;
      const aliases = this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM aliases WHERE domain = ?').get(name)!.n;
      if (users + aliases > 0) throw conflict(`domain ${name} still has ${users} users and ${aliases} aliases; remove them first`);
      this.db.prepare('DELETE FROM domains WHERE name = ?').run(name);
    }, true);
  }

  addUser(u: Omit<UserCreate, 'password'> & { passwordHash: string }): User {
    this.write((changed) => {
      const dom = this.hostedDomainFor(u.address, 'body.address');
      refuseReserved(u.address, 'body.address');
      if (this.s.alias.get(u.address)) throw conflict(`${u.address} is an alias`, 'body.address');
      if (this.s.user.get(u.address)) throw conflict(`user ${u.address} already exists`, 'body.address');
      this.s.insertUser.run(u.address, dom, u.passwordHash, quotaText(u.quota), u.enabled ? 1 : 0, listText(u.forwardTo), u.keepCopy ? 1 : 0);
      changed.add(u.address);
    });
    return this.getUser(u.address);
  }

  updateUser(address: string, u: UserUpdate): User {
    this.write((changed) => {
      const row = this.s.user.get(address);
      if (!row) throw notFound(`user ${address}`);
      if (u.quota !== undefined) this.db.prepare('UPDATE users SET quota = ? WHERE address = ?').run(quotaText(u.quota), address);
      if (u.enabled !== undefined) this.db.prepare('UPDATE users SET enabled = ? WHERE address = ?').run(u.enabled ? 1 : 0, address);
      if (u.forwardTo !== undefined) this.db.prepare('UPDATE users SET forward_to = ? WHERE address = ?').run(listText(u.forwardTo), address);
      if (u.keepCopy !== undefined) this.db.prepare('UPDATE users SET keep_copy = ? WHERE address = ?').run(u.keepCopy ? 1 : 0, address);
      changed.add(address);
    });
    return this.getUser(address);
  }

  setPasswordHash(address: string, hash: string): void {
    this.write((changed) => {
      const r = this.db.prepare('UPDATE users SET password_hash = ? WHERE address = ?').run(hash, address);
      if (r.changes === 0) throw notFound(`user ${address}`);
      changed.add(address);
    });
  }

  /** Removes the directory entry; the mailbox files stay on the storage (an operator deletes mail on purpose, not as a side effect). */
  removeUser(address: string): void {
    this.write((changed) => {
      const r = this.db.prepare('DELETE FROM users WHERE address = ?').run(address);
      if (r.changes === 0) throw notFound(`user ${address}`);
      changed.add(address);
    });
  }

  addAlias(a: AliasCreate): AliasCreate {
    this.write((changed) => {
      const dom = this.hostedDomainFor(a.address, 'body.address');
      refuseReserved(a.address, 'body.address');
      if (this.s.user.get(a.address)) throw conflict(`${a.address} is a user`, 'body.address');
      if (this.s.alias.get(a.address)) throw conflict(`alias ${a.address} already exists`, 'body.address');
      a.targets.forEach((t, i) => {
        if (t === a.address) throw badField(`body.targets[${i}]`, 'an alias cannot point at itself');
      });
      this.db.prepare('INSERT INTO aliases (address, domain, targets) VALUES (?, ?, ?)').run(a.address, dom, JSON.stringify(a.targets));
      changed.add(a.address);
    });
    return a;
  }

  removeAlias(address: string): void {
    this.write((changed) => {
      const r = this.db.prepare('DELETE FROM aliases WHERE address = ?').run(address);
      if (r.changes === 0) throw notFound(`alias ${address}`);
      changed.add(address);
    });
  }

  /** The hosted (primary) domain of an address; alias domains are refused: users and aliases live in the target domain. */
  private hostedDomainFor(address: string, path: string): string {
    const dom = domainOf(address);
    if (this.s.domain.get(dom)) return dom;
    const alias = this.s.aliasTarget.get(dom);
    if (alias) throw badField(path, `${dom} is an alias of ${alias.target}; use ${localPartOf(address)}@${alias.target}`);
    throw badField(path, `domain ${dom} is not hosted here; add it first`);
  }

  // ---- bulk import -------------------------------------------------------------

  /**
   * Starts a bulk import: one transaction for the whole import (nothing is
   * half-imported), fed in batches so the hub's event loop keeps answering
   * heartbeats between them. Other directory writes are refused (conflict)
   * until it commits or aborts. Reads meanwhile see the rows inserted so far.
   */
  beginImport(mode: 'insert' | 'upsert'): ImportSession {
    this.opts.assertActive();
    if (this.importing) throw new HubError('conflict', 'a bulk import is already running');
    this.importing = true;
    this.db.exec('BEGIN IMMEDIATE');
    const stmt = mode === 'upsert' ? this.s.upsertUser : this.s.insertUser;
    const domains = new Map<string, boolean>();
    const isHosted = (d: string) => {
      let hosted = domains.get(d);
      if (hosted === undefined) {
        hosted = this.s.domain.get(d) !== undefined;
        domains.set(d, hosted);
      }
      return hosted;
    };
    let count = 0;
    let open = true;
    const finish = (commit: boolean) => {
      if (!open) return;
      open = false;
      try {
        if (commit) {
          this.opts.assertActive();
          setMeta(this.db, SEQ_KEY, String(this.seq + 1));
          this.db.exec('COMMIT');
          this.seq++;
        } else this.db.exec('ROLLBACK');
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        this.importing = false;
      }
      if (commit) this.opts.onChange?.({ seq: this.seq, changed: [], reset: true });
    };
    return {
      add: (rows, firstLine) => {
        if (!open) throw new HubError('conflict', 'this import has ended');
        rows.forEach((r, i) => {
          const where = `line ${firstLine + i}`;
          const dom = domainOf(r.address);
          if (!isHosted(dom)) throw badField(`${where}.address`, `domain ${dom} is not hosted here; add it first`);
          refuseReserved(r.address, `${where}.address`);
          if (this.s.alias.get(r.address)) throw badField(`${where}.address`, `${r.address} is an alias`);
          try {
            stmt.run(r.address, dom, r.passwordHash, quotaText(r.quota ?? null), r.enabled ? 1 : 0, null, 1);
          } catch (err) {
            if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
              throw badField(`${where}.address`, `user ${r.address} already exists (import with mode=upsert to replace)`);
            }
            throw err;
          }
        });
        count += rows.length;
      },
      commit: () => {
        finish(true);
        return count;
      },
      abort: () => finish(false),
    };
  }

  // ---- reads --------------------------------------------------------------------

  getDomain(name: string): Domain {
    const row = this.s.domain.get(name);
    if (!row) throw notFound(`domain ${name}`);
    return this.domainOf(row);
  }

  private domainOf(row: DomainRow): Domain {
    return {
      name: row.name,
      aliases: this.s.domainAliasesOf.all(row.name).map((r) => r.alias),
      catchAll: row.catch_all,
      dkim: json(row.dkim),
      defaultQuota: json(row.default_quota),
      placement: JSON.parse(row.placement) as DomainPlacement,
      users: this.s.countUsersIn.get(row.name)!.n,
    };
  }

  listDomains(page: { cursor?: string; limit?: number } = {}): { domains: Domain[]; next: string | null } {
    const limit = page.limit ?? PAGE_DEFAULT;
    const after = decodeCursor(page.cursor);
    const rows = this.db.prepare<[string, number], DomainRow>('SELECT * FROM domains WHERE name > ? ORDER BY name LIMIT ?').all(after ?? '', limit + 1);
    const more = rows.length > limit;
    const shown = rows.slice(0, limit);
    return { domains: shown.map((r) => this.domainOf(r)), next: more ? encodeCursor(shown[shown.length - 1]!.name) : null };
  }

  /** Every domain's placement mode and alias domains (small: one row per domain); the placement rules carry them. */
  domainRouting(): { pinned: Record<string, string[]>; aliases: Record<string, string> } {
    const pinned: Record<string, string[]> = {};
    for (const r of this.db.prepare<[], { name: string; placement: string }>('SELECT name, placement FROM domains').iterate()) {
      const p = JSON.parse(r.placement) as DomainPlacement;
      if (p.mode === 'pinned') pinned[r.name] = [...p.nodes].sort();
    }
    const aliases: Record<string, string> = {};
    for (const r of this.db.prepare<[], { alias: string; target: string }>('SELECT alias, target FROM domain_aliases').iterate()) aliases[r.alias] = r.target;
    return { pinned, aliases };
  }

  /** Every hosted domain for gateways (name, alias domains, catch-all, DKIM reference). */
  memberDomains(): { name: string; aliases: string[]; catchAll: string | null; dkim: { selector: string; keyRef: string } | null }[] {
    return this.db
      .prepare<[], DomainRow>('SELECT * FROM domains ORDER BY name')
      .all()
      .map((r) => ({ name: r.name, aliases: this.s.domainAliasesOf.all(r.name).map((a) => a.alias), catchAll: r.catch_all, dkim: json(r.dkim) }));
  }

  getUser(address: string): User {
    const row = this.s.user.get(address);
    if (!row) throw notFound(`user ${address}`);
    return userOf(row);
  }

  /** The stored user (hash included), or undefined. */
  storedUser(address: string): StoredUser | undefined {
    const row = this.s.user.get(address);
    return row && storedOf(row);
  }

  listUsers(q: { domain?: string; search?: string; cursor?: string; limit?: number }): { users: User[]; next: string | null } {
    const limit = q.limit ?? PAGE_DEFAULT;
    const after = decodeCursor(q.cursor) ?? '';
    const where: string[] = ['address > ?'];
    const args: (string | number)[] = [after];
    if (q.domain) {
      where.push('domain = ?');
      args.push(q.domain);
    }
    const search = q.search?.trim().toLowerCase();
    if (search) {
      if (search.endsWith('*') && !search.slice(0, -1).includes('*')) {
        // Prefix: a range on the primary key, no scan.
        const prefix = search.slice(0, -1);
        where.push('address >= ? AND address < ?');
        args.push(prefix, `${prefix}\uffff`);
      } else {
        where.push("instr(address, ?) > 0");
        args.push(search.replace(/\*/g, ''));
      }
    }
    args.push(limit + 1);
    const rows = this.db.prepare<(string | number)[], UserRow>(`SELECT * FROM users WHERE ${where.join(' AND ')} ORDER BY address LIMIT ?`).all(...args);
    const more = rows.length > limit;
    const shown = rows.slice(0, limit);
    return { users: shown.map(userOf), next: more ? encodeCursor(shown[shown.length - 1]!.address) : null };
  }

  listAliases(q: { domain?: string; cursor?: string; limit?: number }): { aliases: AliasCreate[]; next: string | null } {
    const limit = q.limit ?? PAGE_DEFAULT;
    const after = decodeCursor(q.cursor) ?? '';
    const rows = q.domain
      ? this.db.prepare<[string, string, number], { address: string; targets: string }>('SELECT address, targets FROM aliases WHERE domain = ? AND address > ? ORDER BY address LIMIT ?').all(q.domain, after, limit + 1)
      : this.db.prepare<[string, number], { address: string; targets: string }>('SELECT address, targets FROM aliases WHERE address > ? ORDER BY address LIMIT ?').all(after, limit + 1);
    const more = rows.length > limit;
    const shown = rows.slice(0, limit);
    return { aliases: shown.map((r) => ({ address: r.address, targets: JSON.parse(r.targets) as string[] })), next: more ? encodeCursor(shown[shown.length - 1]!.address) : null };
  }

  counts(): { domains: number; users: number } {
    return {
      domains: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM domains').get()!.n,
      users: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users').get()!.n,
    };
  }

  /** `u@alias-domain` → `u@target`. */
  canonical(address: string): string {
    const a = address.trim().toLowerCase();
    const t = this.s.aliasTarget.get(domainOf(a));
    return t ? `${localPartOf(a)}@${t.target}` : a;
  }

  /**
   * What a node needs to log a user in: hash, effective quota (own, else the
   * domain default), enabled, forwarding. Null for unknown addresses.
   */
  memberUser(address: string): MemberUser | null {
    const row = this.s.user.get(this.canonical(address));
    if (!row) return null;
    const own = json<Quota>(row.quota);
    const quota = own ?? json<Quota>(this.s.domain.get(row.domain)?.default_quota ?? null);
    return {
      address: row.address,
      passwordHash: row.password_hash,
      ...(quota ? { quota } : {}),
      enabled: row.enabled === 1,
      forwardTo: json<string[]>(row.forward_to) ?? [],
      keepCopy: row.keep_copy === 1,
    };
  }

  /**
   * What an IMAP ACL identifier names (RFC 4314 §2; auth `Identity`): a user
   * (enabled or not: her rights wait for her), an alias followed through
   * its targets (at most IDENTITY_DEPTH levels; outside addresses and
   * unknown targets name nobody) to one user or several, else unknown. The
   * catch-all is not consulted: it routes mail to an address, it does not
   * make every address someone.
   */
  identify(address: string): Identity {
    const users = new Set<string>();
    const seen = new Set<string>();
    const walk = (a: string, depth: number): void => {
      const canon = this.canonical(a);
      if (seen.has(canon) || depth > IDENTITY_DEPTH) return;
      seen.add(canon);
      if (this.s.user.get(canon)) {
        users.add(canon);
        return;
      }
      const alias = this.s.alias.get(canon);
      if (alias) for (const t of JSON.parse(alias.targets) as string[]) walk(t, depth + 1);
    };
    walk(address, 0);
    const found = [...users].sort();
    if (found.length === 1) return { kind: 'user', address: found[0]! };
    if (found.length > 1) return { kind: 'group', targets: found };
    return { kind: 'unknown' };
  }

  /** What a gateway needs at RCPT TO (no hashes): mailbox, alias, catch-all, unknown or not hosted. */
  recipient(address: string): Recipient {
    const canon = this.canonical(address);
    const dom = domainOf(canon);
    const domain = this.s.domain.get(dom);
    if (!domain) return { kind: 'not-hosted' };
    const user = this.s.user.get(canon);
    if (user && user.enabled === 1) return { kind: 'mailbox', address: canon, forwardTo: json<string[]>(user.forward_to) ?? [], keepCopy: user.keep_copy === 1 };
    if (user) return { kind: 'unknown' }; // disabled: refused like an unknown address (no account enumeration)
    const alias = this.s.alias.get(canon);
    if (alias) return { kind: 'alias', address: canon, targets: JSON.parse(alias.targets) as string[] };
    if (domain.catch_all) return { kind: 'alias', address: canon, targets: [domain.catch_all] };
    return { kind: 'unknown' };
  }
}

export interface ImportSession {
  /** Inserts one batch; `firstLine` numbers its rows in error messages. Throws HubError (bad_request) naming the line and field. */
  add(rows: readonly { address: string; passwordHash: string; quota?: Quota | null; enabled: boolean }[], firstLine: number): void;
  /** Commits everything; returns the number of users imported. */
  commit(): number;
  abort(): void;
}

/** Alias levels `identify` follows (aliases of aliases); deeper chains name nobody. */
const IDENTITY_DEPTH = 4;

/** The shared pseudo-owner's local part is reserved in every domain (auth SHARED_OWNER_LOCAL_PART: the `Shared/` IMAP namespace). */
function refuseReserved(address: string, path: string): void {
  if (localPartOf(address) === SHARED_OWNER_LOCAL_PART) throw badField(path, `the local part ${SHARED_OWNER_LOCAL_PART} is reserved for the domain's shared folders`);
}

function quotaText(q: Quota | null | undefined): string | null {
  return q ? JSON.stringify(q) : null;
}

function listText(l: readonly string[] | undefined): string | null {
  return l && l.length > 0 ? JSON.stringify(l) : null;
}

function storedOf(row: UserRow): StoredUser {
  return {
    address: row.address,
    domain: row.domain,
    passwordHash: row.password_hash,
    quota: json(row.quota),
    enabled: row.enabled === 1,
    forwardTo: json<string[]>(row.forward_to) ?? [],
    keepCopy: row.keep_copy === 1,
  };
}

function userOf(row: UserRow): User {
  const s = storedOf(row);
  return { address: s.address, domain: s.domain, quota: s.quota, enabled: s.enabled, forwardTo: s.forwardTo, keepCopy: s.keepCopy };
}
