import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../mail-runtime/auth';
import { DIRECTORY_MIGRATIONS, openHubDb, type HubDb } from '../../mail-runtime/hub/db';
import { csvFields, DirectoryStore, importUsers, type DirectoryChange } from '../../mail-runtime/hub/directory';
import { HubError } from '../../mail-runtime/hub/errors';
import { DomainCreate } from '../../mail-runtime/hub/protocol';
import { FAST_SCRYPT } from '../helpers/users';

let dir: string;
let db: HubDb;
let store: DirectoryStore;
let active = true;
let changes: DirectoryChange[];
let hash: string;

async function* chunks(text: string, size = 7): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

const domain = (name: string, extra: object = {}) => DomainCreate.parse({ name, ...extra });

function errorOf(fn: () => unknown): HubError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-dir-'));
  db = openHubDb(join(dir, 'hub', 'directory.sqlite'), DIRECTORY_MIGRATIONS);
  changes = [];
  active = true;
  store = new DirectoryStore(db, {
    assertActive: () => {
      if (!active) throw new HubError('not_active', 'not active');
    },
    onChange: (c) => changes.push(c),
  });
  hash ??= await hashPassword('correct horse', FAST_SCRYPT);
});

afterEach(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('directory: SQLite file on the storage', () => {
  it('uses a rollback journal with exclusive locking (no WAL: WAL needs shared memory that NFS cannot give)', async () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.pragma('locking_mode', { simple: true })).toBe('exclusive');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    store.addDomain(domain('example.test'));
    await expect(stat(join(dir, 'hub', 'directory.sqlite-wal'))).rejects.toThrow();
  });

  it('looks a user up by address through the primary key (the query plan names no scan)', () => {
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT * FROM users WHERE address = ?').all('a@b.test') as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/SEARCH users USING PRIMARY KEY \(address=\?\)/);
  });

  it('survives a reopen (persistent) and keeps the change sequence monotonic', () => {
    store.addDomain(domain('example.test'));
    store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    const seq = store.sequence;
    db.close();
    db = openHubDb(join(dir, 'hub', 'directory.sqlite'), DIRECTORY_MIGRATIONS);
    store = new DirectoryStore(db, { assertActive: () => undefined });
    expect(store.sequence).toBe(seq);
    expect(store.memberUser('alice@example.test')?.passwordHash).toBe(hash);
  });
});

describe('directory: domains, users, aliases', () => {
  beforeEach(() => {
    store.addDomain(domain('example.test', { aliases: ['alias.test'], defaultQuota: { bytes: 1000 }, catchAll: null }));
  });

  it('users get the domain default quota unless they have their own; alias domains resolve to the target', () => {
    store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    store.addUser({ address: 'bob@example.test', passwordHash: hash, quota: { messages: 5 }, enabled: true, forwardTo: [], keepCopy: true });
    expect(store.memberUser('alice@example.test')?.quota).toEqual({ bytes: 1000 });
    expect(store.memberUser('bob@example.test')?.quota).toEqual({ messages: 5 });
    expect(store.memberUser('alice@alias.test')?.address).toBe('alice@example.test');
    expect(store.memberUser('nobody@example.test')).toBeNull();
  });

  it('recipients: mailbox, alias, catch-all, unknown, not hosted; a disabled user looks unknown', () => {
    store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: ['out@elsewhere.test'], keepCopy: false });
    store.addUser({ address: 'off@example.test', passwordHash: hash, enabled: false, forwardTo: [], keepCopy: true });
    store.addAlias({ address: 'team@example.test', targets: ['alice@example.test', 'x@elsewhere.test'] });
    expect(store.recipient('Alice@alias.test')).toEqual({ kind: 'mailbox', address: 'alice@example.test', forwardTo: ['out@elsewhere.test'], keepCopy: false });
    expect(store.recipient('team@example.test')).toEqual({ kind: 'alias', address: 'team@example.test', targets: ['alice@example.test', 'x@elsewhere.test'] });
    expect(store.recipient('off@example.test')).toEqual({ kind: 'unknown' });
    expect(store.recipient('nobody@example.test')).toEqual({ kind: 'unknown' });
    expect(store.recipient('a@elsewhere.test')).toEqual({ kind: 'not-hosted' });
    store.updateDomain('example.test', { catchAll: 'alice@example.test' });
    expect(store.recipient('nobody@example.test')).toEqual({ kind: 'alias', address: 'nobody@example.test', targets: ['alice@example.test'] });
  });

  it('ACL identifiers (RFC 4314 §2): a user, an alias down to one user, a group, unknown; the catch-all names nobody', () => {
    store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    store.addUser({ address: 'bob@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    store.addUser({ address: 'off@example.test', passwordHash: hash, enabled: false, forwardTo: [], keepCopy: true });
    store.addAlias({ address: 'sales@example.test', targets: ['alice@example.test', 'x@elsewhere.test'] });
    store.addAlias({ address: 'desk@example.test', targets: ['sales@example.test'] });
    store.addAlias({ address: 'all@example.test', targets: ['alice@example.test', 'bob@example.test'] });
    store.addAlias({ address: 'loop@example.test', targets: ['loop2@example.test'] });
    store.addAlias({ address: 'loop2@example.test', targets: ['loop@example.test'] });
    store.updateDomain('example.test', { catchAll: 'alice@example.test' });
    expect(store.identify('Alice@alias.test')).toEqual({ kind: 'user', address: 'alice@example.test' });
    expect(store.identify('sales@example.test')).toEqual({ kind: 'user', address: 'alice@example.test' });
    expect(store.identify('desk@alias.test')).toEqual({ kind: 'user', address: 'alice@example.test' });
    expect(store.identify('all@example.test')).toEqual({ kind: 'group', targets: ['alice@example.test', 'bob@example.test'] });
    expect(store.identify('off@example.test')).toEqual({ kind: 'user', address: 'off@example.test' });
    expect(store.identify('nobody@example.test')).toEqual({ kind: 'unknown' });
    expect(store.identify('loop@example.test')).toEqual({ kind: 'unknown' });
    expect(store.identify('a@elsewhere.test')).toEqual({ kind: 'unknown' });
  });

  it('the shared pseudo-owner\'s local part (#shared) is reserved: no user, alias or imported row takes it', () => {
    const user = errorOf(() => store.addUser({ address: '#shared@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true }));
    expect(user.code).toBe('bad_request');
    expect(user.problems?.[0]?.path).toBe('body.address');
    expect(user.message).toMatch(/reserved for the domain's shared folders/);
    expect(errorOf(() => store.addAlias({ address: '#shared@example.test', targets: ['x@y.test'] })).code).toBe('bad_request');
    const imp = store.beginImport('insert');
    expect(errorOf(() => imp.add([{ address: '#shared@example.test', passwordHash: hash, enabled: true }], 1)).message).toMatch(/reserved/);
    imp.abort();
  });

  it('refuses conflicts and names the field', () => {
    store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    const dup = errorOf(() => store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true }));
    expect(dup.code).toBe('conflict');
    expect(dup.problems?.[0]?.path).toBe('body.address');
    const aliasDomain = errorOf(() => store.addUser({ address: 'carol@alias.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true }));
    expect(aliasDomain.code).toBe('bad_request');
    expect(aliasDomain.message).toMatch(/alias of example\.test; use carol@example\.test/);
    expect(errorOf(() => store.addAlias({ address: 'alice@example.test', targets: ['x@y.test'] })).code).toBe('conflict');
    expect(errorOf(() => store.removeDomain('example.test')).code).toBe('conflict');
    expect(errorOf(() => store.addDomain(domain('alias.test'))).code).toBe('conflict');
  });

  it('pages and searches users; a prefix search uses the primary key range', () => {
    for (let i = 0; i < 25; i++) store.addUser({ address: `u${String(i).padStart(2, '0')}@example.test`, passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = store.listUsers({ limit: 10, cursor });
      seen.push(...page.users.map((u) => u.address));
      cursor = page.next ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
    expect(store.listUsers({ search: 'u1*' }).users.map((u) => u.address)).toHaveLength(10);
    expect(store.listUsers({ search: '07' }).users.map((u) => u.address)).toEqual(['u07@example.test']);
    expect(() => store.listUsers({ cursor: '!!' })).toThrow(/cursor/);
  });

  it('reports every change to members (addresses, or a reset for domain changes)', () => {
    const before = store.sequence;
    store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    store.setPasswordHash('alice@example.test', hash);
    store.updateDomain('example.test', { catchAll: 'alice@example.test' });
    expect(changes.slice(-3)).toEqual([
      { seq: before + 1, changed: ['alice@example.test'], reset: false },
      { seq: before + 2, changed: ['alice@example.test'], reset: false },
      { seq: before + 3, changed: [], reset: true },
    ]);
  });

  it('a hub that is not active writes nothing', () => {
    active = false;
    expect(errorOf(() => store.addUser({ address: 'alice@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true })).code).toBe('not_active');
    active = true;
    expect(store.memberUser('alice@example.test')).toBeNull();
  });
});

describe('directory: bulk import', () => {
  beforeEach(() => {
    store.addDomain(domain('example.test'));
  });

  it('imports CSV in batches within one transaction, then members are told to reset their caches', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `u${i}@example.test,${hash},${i % 2 ? 1000 : ''},,${i % 3 ? 'true' : 'false'}`);
    const text = `address,passwordHash,quotaBytes,quotaMessages,enabled\n${rows.join('\n')}\n`;
    const out = await importUsers(store, chunks(text, 4096), { format: 'csv', mode: 'insert' });
    expect(out.imported).toBe(5000);
    expect(store.counts().users).toBe(5000);
    expect(store.memberUser('u1@example.test')).toMatchObject({ quota: { bytes: 1000 }, enabled: true });
    expect(store.memberUser('u3@example.test')?.enabled).toBe(false);
    expect(changes.at(-1)).toMatchObject({ reset: true });
  });

  it('imports NDJSON, and upsert replaces existing users', async () => {
    const line = (a: string, enabled: boolean) => JSON.stringify({ address: a, passwordHash: hash, enabled });
    await importUsers(store, chunks(`${line('a@example.test', true)}\n\n${line('b@example.test', true)}`), { format: 'ndjson', mode: 'insert' });
    await importUsers(store, chunks(line('a@example.test', false)), { format: 'ndjson', mode: 'upsert' });
    expect(store.memberUser('a@example.test')?.enabled).toBe(false);
    expect(store.counts().users).toBe(2);
  });

  it('a bad line refuses the whole import, naming line and field; nothing is imported', async () => {
    const good = Array.from({ length: 3000 }, (_, i) => `g${i}@example.test,${hash}`);
    const text = ['address,passwordHash', ...good, 'not-an-address,' + hash, `x@example.test,plaintext`].join('\n');
    const err = await importUsers(store, chunks(text, 1000), { format: 'csv', mode: 'insert' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    const problems = (err as HubError).problems!;
    expect(problems.map((p) => p.path)).toEqual(['line 3002.address', 'line 3003.passwordHash']);
    expect(store.counts().users).toBe(0);
    // The directory is writable again afterwards.
    store.addUser({ address: 'after@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
  });

  it('an existing address refuses an insert-mode import; an unknown domain too', async () => {
    store.addUser({ address: 'dup@example.test', passwordHash: hash, enabled: true, forwardTo: [], keepCopy: true });
    const err = await importUsers(store, chunks(`address,passwordHash\nnew@example.test,${hash}\ndup@example.test,${hash}\n`), { format: 'csv', mode: 'insert' }).catch((e: unknown) => e as HubError);
    expect((err as HubError).problems?.[0]).toMatchObject({ path: 'line 3.address' });
    expect(store.storedUser('new@example.test')).toBeUndefined();
    const err2 = await importUsers(store, chunks(`address,passwordHash\nnew@other.test,${hash}\n`), { format: 'csv', mode: 'insert' }).catch((e: unknown) => e as HubError);
    expect((err2 as HubError).message).toMatch(/other\.test is not hosted/);
  });

  it('refuses a CSV header it does not know', async () => {
    const err = await importUsers(store, chunks(`mail,hash\n`), { format: 'csv', mode: 'insert' }).catch((e: unknown) => e as HubError);
    expect((err as HubError).problems?.[0]?.message).toMatch(/missing address, passwordHash; unknown mail, hash/);
  });

  it('splits CSV fields with quotes (RFC 4180)', () => {
    expect(csvFields('a,"b,c","d""e",')).toEqual(['a', 'b,c', 'd"e', '']);
    expect(() => csvFields('"open')).toThrow(/unterminated/);
  });
});
