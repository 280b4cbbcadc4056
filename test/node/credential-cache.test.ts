import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CredentialCache, hashPassword, verifyPassword, type PasswordVerifier } from '../../mail-runtime/auth';
import { LineClient } from '../helpers/line-client';
import { spawnNodeMember, type SpawnedMember, type TestLimits } from '../helpers/node';
import { FAST_SCRYPT, writeUsersFile, type TestUser } from '../helpers/users';

/**
 * Issue 15 "Logins": a verified-credential cache (as Dovecot's auth cache)
 * so a client's repeated logins do not pay the password hash each time.
 * Real member processes, real IMAP and POP3 sockets; what is asserted is
 * how many hashes the node computed (`mailfleet_password_hashes_total`)
 * and what each login answered — never how long anything took.
 */
const ALICE = { address: 'alice@example.com', password: 'alice secret' };
const OK = /^a OK /;
const FAILED = 'a NO [AUTHENTICATIONFAILED] Authentication failed';

let dir: string;
const members: SpawnedMember[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-credential-cache-'));
});
afterEach(async () => {
  for (const m of members.splice(0)) await m.stop();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The users file (renamed into place, so the node sees a new inode). */
async function writeUsers(users: TestUser[]): Promise<void> {
  await writeUsersFile(join(dir, 'users.yaml'), users);
}

async function member(name: string, limits: TestLimits = {}): Promise<SpawnedMember> {
  // The queue deadline is not what these tests are about (a loaded machine could hit it).
  const m = await spawnNodeMember(dir, { memberId: name, cluster: 'credcache', limits: { passwordCheckQueueMs: 60_000, ...limits } });
  members.push(m);
  return m;
}

async function imapLogin(m: SpawnedMember, user: { address: string; password: string }): Promise<string> {
  const c = await LineClient.connect(m.imapPort);
  try {
    await c.readLine();
    return (await c.command('a', `LOGIN "${user.address}" "${user.password}"`, 30_000)).pop() as string;
  } finally {
    c.close();
  }
}

async function pop3Login(m: SpawnedMember, user: { address: string; password: string }): Promise<string> {
  const c = await LineClient.connect(m.pop3Port);
  try {
    await c.readLine();
    expect(await c.pop(`USER ${user.address}`)).toEqual(['+OK']);
    return (await c.pop(`PASS ${user.password}`))[0];
  } finally {
    c.close();
  }
}

async function metric(m: SpawnedMember, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${m.healthPort}/metrics`)).text();
  const line = new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text);
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line[1]);
}
const hashes = (m: SpawnedMember) => metric(m, 'mailfleet_password_hashes_total');

describe('verified-credential cache (limits.credentialCacheSeconds, default 60 s)', () => {
  it('a repeated login, over IMAP or POP3, computes no second hash', async () => {
    await writeUsers([ALICE]);
    const m = await member('repeat');
    const before = await hashes(m);
    expect(await imapLogin(m, ALICE)).toMatch(OK);
    expect((await hashes(m)) - before).toBe(1);
    for (let i = 0; i < 3; i++) expect(await imapLogin(m, ALICE)).toMatch(OK);
    expect(await pop3Login(m, ALICE)).toMatch(/^\+OK/);
    expect((await hashes(m)) - before).toBe(1);
    expect(await metric(m, 'mailfleet_credential_cache_hits_total')).toBe(4);
  });

  it('a wrong password is never cached: each guess costs a hash and fails, also right after a good login', async () => {
    await writeUsers([ALICE]);
    const m = await member('wrong');
    expect(await imapLogin(m, ALICE)).toMatch(OK);
    const before = await hashes(m);
    const wrong = { address: ALICE.address, password: 'not it' };
    expect(await imapLogin(m, wrong)).toBe(FAILED);
    expect(await imapLogin(m, wrong)).toBe(FAILED);
    expect((await hashes(m)) - before).toBe(2);
    // Case matters in a password: a near miss is a miss.
    expect(await imapLogin(m, { address: ALICE.address, password: ALICE.password.toUpperCase() })).toBe(FAILED);
  });

  it('a password change invalidates at once: the old password fails, the new one is checked', async () => {
    await writeUsers([ALICE]);
    const m = await member('change');
    expect(await imapLogin(m, ALICE)).toMatch(OK);
    expect(await imapLogin(m, ALICE)).toMatch(OK);
    const renewed = { address: ALICE.address, password: 'new secret' };
    await writeUsers([renewed]);
    const before = await hashes(m);
    expect(await imapLogin(m, ALICE)).toBe(FAILED);
    expect(await imapLogin(m, renewed)).toMatch(OK);
    expect((await hashes(m)) - before).toBe(2);
    expect(await pop3Login(m, ALICE)).toMatch(/^-ERR/);
  });

  it('a disabled user is refused although her password is cached', async () => {
    await writeUsers([ALICE]);
    const m = await member('disabled');
    expect(await imapLogin(m, ALICE)).toMatch(OK);
    await writeUsers([{ ...ALICE, disabled: true }]);
    expect(await imapLogin(m, ALICE)).toBe(FAILED);
    expect(await pop3Login(m, ALICE)).toMatch(/^-ERR/);
  });

  it('credentialCacheSeconds: 0 turns it off: every login hashes', async () => {
    await writeUsers([ALICE]);
    const m = await member('off', { credentialCacheSeconds: 0 });
    const before = await hashes(m);
    for (let i = 0; i < 3; i++) expect(await imapLogin(m, ALICE)).toMatch(OK);
    expect((await hashes(m)) - before).toBe(3);
    expect(await metric(m, 'mailfleet_credential_cache_hits_total')).toBe(0);
  });
});

describe('CredentialCache bounds', () => {
  /** Real checks, counted. */
  function counting(): { verifier: PasswordVerifier; calls: () => number } {
    let n = 0;
    return {
      verifier: {
        verify: (password, hash) => {
          n++;
          return verifyPassword(password, hash);
        },
        unknownUser: () => Promise.resolve(false),
      },
      calls: () => n,
    };
  }

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const cache = new CredentialCache(60_000, 2);
    const inner = counting();
    const users = await Promise.all(['a', 'b', 'c'].map(async (u) => ({ user: `${u}@example.com`, password: `${u} pw`, hash: await hashPassword(`${u} pw`, FAST_SCRYPT) })));
    const check = (i: number) => cache.verifier(users[i].user, inner.verifier).verify(users[i].password, users[i].hash);
    for (const i of [0, 1]) expect(await check(i)).toBe(true);
    expect(await check(0)).toBe(true); // a hit: a is now the most recent
    expect(inner.calls()).toBe(2);
    expect(await check(2)).toBe(true); // evicts b
    expect(cache.stats().entries).toBe(2);
    expect(await check(0)).toBe(true);
    expect(inner.calls()).toBe(3);
    expect(await check(1)).toBe(true);
    expect(inner.calls()).toBe(4);
  });

  it('an entry past its TTL is checked again', async () => {
    const cache = new CredentialCache(1);
    const inner = counting();
    const hash = await hashPassword('pw', FAST_SCRYPT);
    const check = () => cache.verifier('a@example.com', inner.verifier).verify('pw', hash);
    expect(await check()).toBe(true);
    // Well past 1 ms on any machine (the monotonic clock only moves forward); no upper bound is assumed.
    await new Promise((r) => setTimeout(r, 50));
    expect(await check()).toBe(true);
    expect(inner.calls()).toBe(2);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 2 });
  });

  it('is keyed on the user too: the same password and hash under another name is checked', async () => {
    const cache = new CredentialCache(60_000);
    const inner = counting();
    const hash = await hashPassword('shared', FAST_SCRYPT);
    expect(await cache.verifier('a@example.com', inner.verifier).verify('shared', hash)).toBe(true);
    expect(await cache.verifier('A@Example.com', inner.verifier).verify('shared', hash)).toBe(true);
    expect(inner.calls()).toBe(1);
    expect(await cache.verifier('b@example.com', inner.verifier).verify('shared', hash)).toBe(true);
    expect(inner.calls()).toBe(2);
  });
});
