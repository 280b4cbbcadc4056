import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileDirectory,
  LoginLimiter,
  MemoryLoginHistory,
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
    ['plain password', `users:\n  - address: a@b.c\n    password: hunter2\n`, /users\[0\]\.password: must be a password hash: scrypt/],
    ['bad address', `users:\n  - address: nobody\n    password: "$H"\n`, /users\[0\]\.address/],
    ['unknown field', `users:\n  - address: a@b.c\n    password: "$H"\n    admin: true\n`, /admin/],
    ['duplicate address', `users:\n  - address: a@b.c\n    password: "$H"\n  - address: A@b.c\n    password: "$H"\n`, /already used/],
    ['the shared pseudo-owner', `users:\n  - address: "#shared@b.c"\n    password: "$H"\n`, /users\[0\]: the local part #shared is reserved/],
    ['an alias naming the shared pseudo-owner', `users:\n  - address: a@b.c\n    password: "$H"\n    aliases: ["#Shared@b.c"]\n`, /users\[0\]: the local part #shared is reserved/],
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
  const opts = { perAddress: 6, perUserAddress: 2, perUser: 4, windowMs: 60_000, userDelayMaxMs: 1000, pairDelayMs: 1000 };
  function limiter() {
    let now = 1_000_000;
    const l = new LoginLimiter(opts, undefined, () => now);
    return { l, advance: (ms: number) => (now += ms) };
  }

  it('per (user, address): free failures, then a wait that doubles; only that pair waits', async () => {
    const { l, advance } = limiter();
    await l.failed('u@x', '10.0.0.1');
    expect(await l.check('u@x', '10.0.0.1')).toMatchObject({ allowed: true });
    await l.failed('u@x', '10.0.0.1');
    // Two failures (perUserAddress): the next check waits 1 s after the last failure.
    expect(await l.check('U@X', '10.0.0.1')).toEqual({ allowed: false, reason: 'user-address' });
    expect(await l.check('u@x', '10.0.0.2')).toMatchObject({ allowed: true });
    expect(await l.check('v@x', '10.0.0.1')).toMatchObject({ allowed: true });
    advance(1000);
    expect(await l.check('u@x', '10.0.0.1')).toMatchObject({ allowed: true });
    await l.failed('u@x', '10.0.0.1');
    advance(1999);
    expect(await l.check('u@x', '10.0.0.1')).toEqual({ allowed: false, reason: 'user-address' });
    advance(1);
    expect(await l.check('u@x', '10.0.0.1')).toMatchObject({ allowed: true });
  });

  it('per user: failures from many addresses slow the user down from new addresses, never refuse, and skip addresses it logged in from', async () => {
    const { l } = limiter();
    await l.succeeded('u@x', '10.9.9.9');
    for (let i = 1; i <= 40; i++) await l.failed('u@x', `10.1.0.${i}`);
    for (const ip of ['10.2.0.1', '10.1.0.1']) {
      const v = await l.check('u@x', ip);
      // Capped at userDelayMaxMs (4 free failures, then 250 ms doubling: past 1000 ms long ago).
      expect(v).toEqual({ allowed: true, delayMs: 1000, priority: 'suspect' });
    }
    expect(await l.check('u@x', '10.9.9.9')).toEqual({ allowed: true, delayMs: 0, priority: 'known' });
    expect(await l.check('v@x', '10.3.0.1')).toEqual({ allowed: true, delayMs: 0, priority: 'clean' });
  });

  it('the per-user wait grows from 250 ms', async () => {
    const { l } = limiter();
    const delays: number[] = [];
    for (let i = 1; i <= 7; i++) {
      await l.failed('u@x', `10.1.0.${i}`);
      const v = await l.check('u@x', '10.2.0.1');
      delays.push(v.allowed ? v.delayMs : -1);
    }
    expect(delays).toEqual([0, 0, 0, 250, 500, 1000, 1000]);
  });

  it('per address: refused at the limit, whoever the user, except a user who logged in from there', async () => {
    const { l, advance } = limiter();
    await l.succeeded('home@x', '10.0.0.1');
    for (let i = 0; i < 6; i++) await l.failed(`guess${i}@x`, '10.0.0.1');
    expect(await l.check('other@x', '10.0.0.1')).toEqual({ allowed: false, reason: 'address' });
    expect(await l.check('home@x', '10.0.0.1')).toMatchObject({ allowed: true, priority: 'known' });
    expect(await l.check('other@x', '10.0.0.2')).toMatchObject({ allowed: true, priority: 'clean' });
    advance(60_001);
    expect(await l.check('other@x', '10.0.0.1')).toMatchObject({ allowed: true, priority: 'clean' });
  });

  it('an IPv6 client counts by its /64', async () => {
    const { l } = limiter();
    for (let i = 0; i < 6; i++) await l.failed(`guess${i}@x`, `2001:db8:1:2::${i + 1}`);
    expect(await l.check('other@x', '2001:db8:1:2:ffff::9')).toEqual({ allowed: false, reason: 'address' });
    expect(await l.check('other@x', '2001:db8:1:3::1')).toMatchObject({ allowed: true });
  });

  it('a success forgives the pair, not the user count', async () => {
    const { l } = limiter();
    for (let i = 0; i < 2; i++) await l.failed('u@x', '10.0.0.1');
    for (let i = 0; i < 5; i++) await l.failed('u@x', `10.1.0.${i}`);
    expect(await l.check('u@x', '10.0.0.1')).toMatchObject({ allowed: false });
    await l.succeeded('u@x', '10.0.0.5');
    expect(await l.check('u@x', '10.0.0.1')).toMatchObject({ allowed: false });
    await l.succeeded('u@x', '10.0.0.1');
    expect(await l.check('u@x', '10.0.0.1')).toEqual({ allowed: true, delayMs: 0, priority: 'known' });
    expect(await l.check('u@x', '10.0.0.9')).toMatchObject({ allowed: true, priority: 'suspect' });
    expect((await l.check('u@x', '10.0.0.9')) as { delayMs: number }).toMatchObject({ delayMs: 1000 });
  });

  it('remembers through the LoginHistory interface (shareable), bounded per kind of key', async () => {
    const history = new MemoryLoginHistory({ maxKeysPerKind: 100, maxEventsPerKey: 4 });
    const l = new LoginLimiter(opts, history);
    await l.succeeded('home@x', '10.9.9.9');
    for (let i = 0; i < 5000; i++) await l.failed(`user${i}@x`, `10.0.${i >> 8}.${i & 255}`);
    // Four kinds (address, user, pair, known), each at most 100 keys.
    expect(history.size).toBeLessThanOrEqual(400);
    // A flood of made-up names does not push out the user's own address.
    expect(await l.check('home@x', '10.9.9.9')).toMatchObject({ allowed: true, priority: 'known' });
    const [k] = await history.read([{ key: 'x:y', windowMs: 1000 }]);
    expect(k).toEqual({ count: 0, last: 0 });
    await history.record(['x:y', 'x:y', 'x:y', 'x:y', 'x:y', 'x:y']);
    expect((await history.read([{ key: 'x:y', windowMs: 60_000 }]))[0].count).toBe(4);
    await history.forget(['x:y']);
    expect((await history.read([{ key: 'x:y', windowMs: 60_000 }]))[0].count).toBe(0);
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
