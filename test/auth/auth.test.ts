import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileDirectory,
  LoginLimiter,
  decodeSaslPlain,
  encodeSaslPlain,
  hashPassword,
  isPasswordHash,
  parseUsersFile,
  verifyPassword,
} from '../../mail-runtime/auth';

// Cheap parameters keep the suite fast; the format records them per hash.
const FAST = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('round-trips and rejects a wrong password', async () => {
    const h = await hashPassword('correct horse', FAST);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horse ', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('uses a fresh salt every time', async () => {
    expect(await hashPassword('x', FAST)).not.toBe(await hashPassword('x', FAST));
  });

  it.each([
    ['plain text', 'hunter2'],
    ['wrong scheme', 'bcrypt$1024$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=='],
    ['N not a power of two', 'scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=='],
    ['absurd N', `scrypt$${2 ** 24}$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==`],
    ['bad base64', 'scrypt$1024$8$1$!!!$AAAAAAAAAAAAAAAAAAAAAA=='],
    ['missing part', 'scrypt$1024$8$1$AAAAAAAAAAA='],
  ])('refuses a malformed hash: %s', async (_name, h) => {
    expect(isPasswordHash(h)).toBe(false);
    expect(await verifyPassword('hunter2', h)).toBe(false);
  });
});

describe('users file', () => {
  let dir: string;
  let file: string;
  let aliceHash: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-auth-'));
    file = join(dir, 'users.yaml');
    aliceHash = await hashPassword('alice-pw', FAST);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('authenticates, honours aliases and case, refuses disabled users', async () => {
    const bobHash = await hashPassword('bob-pw', FAST);
    await writeFile(
      file,
      [
        'users:',
        `  - address: Alice@Example.com`,
        `    password: "${aliceHash}"`,
        `    quota: { bytes: 1000, messages: 10 }`,
        `    aliases: [ali@example.com]`,
        `  - address: bob@example.com`,
        `    password: "${bobHash}"`,
        `    disabled: true`,
      ].join('\n'),
    );
    const d = await FileDirectory.open({ file });
    const ctx = { ip: '127.0.0.1' };
    expect(await d.authenticate('alice@example.com', 'alice-pw', ctx)).toEqual({
      address: 'alice@example.com',
      quota: { bytes: 1000, messages: 10 },
    });
    expect(await d.authenticate('ALI@example.COM', 'alice-pw', ctx)).toMatchObject({ address: 'alice@example.com' });
    expect(await d.authenticate('alice@example.com', 'wrong', ctx)).toBeNull();
    expect(await d.authenticate('nobody@example.com', 'alice-pw', ctx)).toBeNull();
    expect(await d.authenticate('bob@example.com', 'bob-pw', ctx)).toBeNull();
    expect(await d.lookup('bob@example.com')).toBeNull();
    expect(await d.lookup('ali@example.com')).toMatchObject({ address: 'alice@example.com' });
  });

  it('reloads a replaced file and keeps the last good users when the new file is invalid', async () => {
    await writeFile(file, JSON.stringify({ users: [{ address: 'alice@example.com', password: aliceHash }] }));
    const d = await FileDirectory.open({ file });
    expect(await d.lookup('carol@example.com')).toBeNull();
    const carolHash = await hashPassword('carol-pw', FAST);
    const tmp = join(dir, 'users.new');
    await writeFile(tmp, `users:\n  - address: carol@example.com\n    password: "${carolHash}"\n`);
    await rename(tmp, file); // atomic replace, as config managers do
    expect(await d.authenticate('carol@example.com', 'carol-pw', { ip: '10.0.0.1' })).toMatchObject({
      address: 'carol@example.com',
    });
    expect(await d.lookup('alice@example.com')).toBeNull();
    await writeFile(file, 'users:\n  - address: broken\n    password: hunter2\n');
    expect(await d.lookup('carol@example.com')).toMatchObject({ address: 'carol@example.com' });
  });

  it.each([
    ['plain password', `users:\n  - address: a@b.c\n    password: hunter2\n`, /users\[0\]\.password: must be a scrypt hash/],
    ['bad address', `users:\n  - address: nobody\n    password: "$H"\n`, /users\[0\]\.address/],
    ['unknown field', `users:\n  - address: a@b.c\n    password: "$H"\n    admin: true\n`, /admin/],
    ['duplicate address', `users:\n  - address: a@b.c\n    password: "$H"\n  - address: A@b.c\n    password: "$H"\n`, /already used/],
    ['negative quota', `users:\n  - address: a@b.c\n    password: "$H"\n    quota: { bytes: -1 }\n`, /quota\.bytes/],
    ['not yaml', `users: [`, /not valid YAML/],
  ])('rejects an invalid file naming the field: %s', (_n, text, re) => {
    expect(() => parseUsersFile(text.replaceAll('$H', aliceHash), 'users.yaml')).toThrow(re);
  });

  it('open() fails loudly on an invalid file', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'users:\n  - address: x\n');
    await expect(FileDirectory.open({ file: bad })).rejects.toThrow(/bad\.yaml/);
  });
});

describe('LoginLimiter', () => {
  it('slows down progressively, then refuses, then forgets after the window', () => {
    let now = 1_000_000;
    const l = new LoginLimiter({ perIp: 6, perUser: 4, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 1000, now: () => now });
    expect(l.check('1.2.3.4', 'u@x')).toEqual({ allowed: true, delayMs: 0 });
    l.recordFailure('1.2.3.4', 'u@x');
    expect(l.check('1.2.3.4', 'u@x').delayMs).toBe(0);
    l.recordFailure('1.2.3.4', 'u@x');
    expect(l.check('1.2.3.4', 'u@x')).toEqual({ allowed: true, delayMs: 100 });
    l.recordFailure('1.2.3.4', 'u@x');
    expect(l.check('1.2.3.4', 'u@x')).toEqual({ allowed: true, delayMs: 200 });
    l.recordFailure('1.2.3.4', 'u@x');
    expect(l.check('1.2.3.4', 'U@X')).toMatchObject({ allowed: false, reason: 'user' });
    // Another user from the same IP is still allowed (IP count 4 < 6) but slowed.
    expect(l.check('1.2.3.4', 'v@x')).toMatchObject({ allowed: true });
    l.recordFailure('1.2.3.4', 'v@x');
    l.recordFailure('1.2.3.4', 'v@x');
    expect(l.check('1.2.3.4', 'w@x')).toMatchObject({ allowed: false, reason: 'ip' });
    expect(l.check('5.6.7.8', 'w@x')).toEqual({ allowed: true, delayMs: 0 });
    now += 60_001;
    expect(l.check('1.2.3.4', 'u@x')).toEqual({ allowed: true, delayMs: 0 });
  });

  it('a success clears the user counter', () => {
    const l = new LoginLimiter({ perIp: 100, perUser: 2 });
    l.recordFailure('1.1.1.1', 'u@x');
    l.recordFailure('1.1.1.1', 'u@x');
    expect(l.check('1.1.1.1', 'u@x').allowed).toBe(false);
    l.recordSuccess('1.1.1.1', 'u@x');
    expect(l.check('1.1.1.1', 'u@x').allowed).toBe(true);
  });

  it('bounds memory under a flood of distinct names', () => {
    const l = new LoginLimiter({ maxKeys: 1000 });
    for (let i = 0; i < 5000; i++) l.recordFailure(`10.0.${i >> 8}.${i & 255}`, `user${i}@x`);
    // The private map is bounded; observe it through its effect: the newest key still counts.
    l.recordFailure('10.99.0.1', 'z@x');
    expect(l.check('10.99.0.1', 'z@x').allowed).toBe(true);
    expect((l as unknown as { failures: Map<string, unknown> }).failures.size).toBeLessThanOrEqual(1000);
  });
});

describe('SASL PLAIN', () => {
  it.each([
    [encodeSaslPlain('u@x', 'pw'), { authzid: '', username: 'u@x', password: 'pw' }],
    [encodeSaslPlain('u@x', 'pä ss', 'admin'), { authzid: 'admin', username: 'u@x', password: 'pä ss' }],
  ])('decodes %s', (b64, creds) => {
    expect(decodeSaslPlain(b64)).toEqual({ ok: true, creds });
  });
  it.each(['***', 'AAA', Buffer.from('u\0p').toString('base64'), Buffer.from('\0\0pw').toString('base64'), ''])(
    'rejects %j',
    (b64) => {
      expect(decodeSaslPlain(b64).ok).toBe(false);
    },
  );
});
