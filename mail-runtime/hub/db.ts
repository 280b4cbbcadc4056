import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type HubDb = Database.Database;

/**
 * The hub's state in SQLite files on the shared storage, so that a standby
 * hub that takes over finds all of it:
 *
 * - `<storage>/hub/directory.sqlite`: domains, users, aliases;
 * - `<storage>/hub/state.sqlite`: placement versions, settings versions,
 *   the member list.
 *
 * Two files, two connections: a bulk import holds one transaction open on
 * the directory for its whole length (nothing half-imported), while a
 * placement change (a node died) must commit at once, on its own.
 *
 * Why these pragmas:
 * - `journal_mode = DELETE` (a rollback journal), not WAL: WAL keeps its
 *   index in shared memory (`-shm`, mmap), which does not work across hosts
 *   on NFS (sqlite.org/wal.html §"WAL does not work over a network
 *   filesystem"); a rollback journal needs only ordinary file I/O.
 * - `locking_mode = EXCLUSIVE`: only the active hub ever opens the file (the
 *   hub lease on the same storage decides which one, hub/lease), so there
 *   is no reader to share with; holding the lock for the connection's life
 *   saves a lock round trip per transaction, which on NFS is a network call.
 *   Correctness does not rest on this lock: NFS lock managers are not
 *   trustworthy across hosts, so the lease and its epoch fence writers.
 * - `synchronous = FULL`: a committed user, placement version or settings
 *   version is on the storage before the API answers (members act on them).
 * - `busy_timeout`: a standby that takes over may find the file still locked
 *   for a moment by the old active hub, which closes it as soon as it sees
 *   the higher lease epoch.
 */
export const DIRECTORY_DB_FILE = 'directory.sqlite';
export const STATE_DB_FILE = 'state.sqlite';
const BUSY_TIMEOUT_MS = 10_000;
/** Page cache per connection (negative: KiB). 64 MiB keeps the upper B-tree levels of a million users in memory. */
const CACHE_KIB = 64 * 1024;

/** Schema of directory.sqlite, one entry per version (PRAGMA user_version). */
export const DIRECTORY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE domains (
    name TEXT PRIMARY KEY,
    catch_all TEXT,
    dkim TEXT,
    default_quota TEXT,
    placement TEXT NOT NULL DEFAULT '{"mode":"split"}'
  ) WITHOUT ROWID;
  CREATE TABLE domain_aliases (
    alias TEXT PRIMARY KEY,
    target TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX domain_aliases_target ON domain_aliases(target);
  -- Users keyed by address: a B-tree, so a lookup is O(log n) at a million rows.
  CREATE TABLE users (
    address TEXT PRIMARY KEY,
    domain TEXT NOT NULL REFERENCES domains(name),
    password_hash TEXT NOT NULL,
    quota TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    forward_to TEXT,
    keep_copy INTEGER NOT NULL DEFAULT 1
  ) WITHOUT ROWID;
  CREATE INDEX users_domain ON users(domain, address);
  CREATE TABLE aliases (
    address TEXT PRIMARY KEY,
    domain TEXT NOT NULL REFERENCES domains(name),
    targets TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX aliases_domain ON aliases(domain, address);
  `,
];

/** Schema of state.sqlite. */
export const STATE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE placement (version INTEGER PRIMARY KEY, snapshot TEXT NOT NULL);
  CREATE TABLE settings (version INTEGER PRIMARY KEY, settings TEXT NOT NULL, applied_at INTEGER NOT NULL);
  CREATE TABLE members (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    site TEXT NOT NULL,
    version TEXT NOT NULL,
    advertise TEXT NOT NULL,
    ports TEXT NOT NULL,
    incarnation INTEGER NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  `,
  // Queue folders of gone gateways given to live ones (hub/queues): who holds which folder at which epoch.
  `
  CREATE TABLE queue_takeovers (
    folder TEXT PRIMARY KEY,
    from_member TEXT NOT NULL,
    to_member TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    assigned_at INTEGER NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  `,
];

export class HubDbError extends Error {}

/** Opens (creating if needed) and migrates one hub database file. */
/**
 * `locking` `normal` is for a hub whose writer can be paused while the next
 * one takes over (a failover-pair member, fenced by its site lease): an
 * idle connection then holds no lock, so a frozen old holder does not keep
 * the new one from opening the files.
 */
export function openHubDb(file: string, migrations: readonly string[], locking: 'exclusive' | 'normal' = 'exclusive'): HubDb {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma(`locking_mode = ${locking === 'exclusive' ? 'EXCLUSIVE' : 'NORMAL'}`);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${CACHE_KIB}`);
    migrate(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: HubDb, migrations: readonly string[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new HubDbError(`${db.name}: schema version ${current} is newer than this hub understands (${migrations.length}); upgrade the hub`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** A value from the meta table. */
export function getMeta(db: HubDb, key: string): string | undefined {
  const row = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key);
  return row?.value;
}

export function setMeta(db: HubDb, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
