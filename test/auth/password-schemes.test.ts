/**
 * Password hashes operators bring from Dovecot: every vector here is made by
 * the real tools in the test (`doveadm pw`, `openssl passwd`), never pasted,
 * so we verify what an operator's passwd-file or SQL table really holds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, FileDirectory, LoginLimiter, PasswordCheckPool, hashPassword, isPasswordHash, parseUsersFile, verifyPassword } from '../../mail-runtime/auth';
import { passwordHashProblem } from '../../mail-runtime/auth/password';
import { shaCrypt } from '../../mail-runtime/auth/password-schemes';
import { HashThreads, sharedHashThreads } from '../../mail-runtime/auth/password-threads';
import { ConfigFileError } from '../../mail-runtime/config';
import { doveadmPw } from '../helpers/dovecot';
import { findProgram } from '../helpers/daemon';

/**
 * Per-test budget: real Argon2 (64 MiB, t=3) and bcrypt hashes, and doveadm
 * runs, take seconds each and many times that on a busy machine (the default
 * 30 s is not a statement about speed; nothing here asserts a duration).
 */
const SLOW_HASHES_MS = 300_000;

const PASSWORDS = ['correct horse', 'pässwörd ünïcode', 'x', 'a'.repeat(100), 'with $dollar and {braces}'];

describe('SHA-crypt ($5$, $6$) implemented from the published algorithm', { timeout: SLOW_HASHES_MS }, () => {
  it('matches glibc crypt(3) through openssl for password lengths 1..130 (every branch of the length loops)', () => {
    const openssl = findProgram(['openssl'], 'openssl');
    for (let len = 1; len <= 130; len += 7) {
      const pw = 'pw'.repeat(70).slice(0, len);
      for (const alg of ['-5', '-6']) {
        const salt = 'abcdefghijklmnop'.slice(0, (len % 16) + 1);
        const expected = execFileSync(openssl, ['passwd', alg, '-salt', salt, pw], { encoding: 'utf8' }).trim();
        expect(shaCrypt(pw, expected)).toBe(expected);
      }
    }
  });

  it('matches the specification examples (rounds below the minimum are raised to 1000)', () => {
    // From Drepper's "Unix crypt using SHA-256 and SHA-512"; also what glibc and openssl print.
    expect(shaCrypt('Hello world!', '$6$saltstring')).toBe(
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    expect(shaCrypt('the minimum number is still observed', '$6$rounds=10$roundstoolow')).toBe(
      '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.',
    );
    expect(shaCrypt('Hello world!', '$5$saltstring')).toBe('$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5');
  });
});

describe('hashes from doveadm pw', { timeout: SLOW_HASHES_MS }, () => {
  const schemes: [scheme: string, rounds?: number][] = [
    ['SHA512-CRYPT'],
    ['SHA512-CRYPT', 12_000],
    ['SHA256-CRYPT'],
    ['BLF-CRYPT'],
    ['BLF-CRYPT', 8],
    ['ARGON2ID'],
    ['ARGON2I'],
  ];

  it.each(schemes)('%s (rounds %s): the right password verifies, others do not', async (scheme, rounds) => {
    for (const pw of scheme.startsWith('ARGON2') ? PASSWORDS.slice(0, 2) : PASSWORDS) {
      const hash = doveadmPw(scheme, pw, rounds);
      expect(hash.startsWith(`{${scheme}}`)).toBe(true);
      expect(isPasswordHash(hash)).toBe(true);
      expect(await verifyPassword(pw, hash)).toBe(true);
      // bcrypt reads only the first 72 bytes of a password, in Dovecot (glibc/OpenBSD) as here.
      const beyond72 = scheme === 'BLF-CRYPT' && Buffer.byteLength(pw) >= 72;
      expect(await verifyPassword(`${pw} `, hash)).toBe(beyond72);
      expect(await verifyPassword(pw.toUpperCase() === pw ? pw.toLowerCase() : pw.toUpperCase(), hash)).toBe(false);
      // The same hash without its {SCHEME} prefix (as /etc/shadow or a {CRYPT} column holds it).
      const bare = hash.slice(hash.indexOf('}') + 1);
      expect(await verifyPassword(pw, bare)).toBe(true);
      if (scheme.endsWith('-CRYPT')) expect(await verifyPassword(pw, `{CRYPT}${bare}`)).toBe(true);
    }
  });

  it.each([
    ['an unknown scheme', '{MD5-CRYPT}$1$abc$def', 'scheme {MD5-CRYPT} is not supported'],
    ['a prefix that does not match', `{BLF-CRYPT}$6$saltsalt$${'a'.repeat(86)}`, '{BLF-CRYPT} prefix on a SHA512-CRYPT hash'],
    ['too many SHA-crypt rounds', `{SHA512-CRYPT}$6$rounds=5000000$salt$${'a'.repeat(86)}`, 'rounds 5000000 above 1000000'],
    ['a truncated SHA-crypt hash', '{SHA512-CRYPT}$6$salt$abc', 'hash must be 86 characters'],
    ['too high a bcrypt cost', `$2y$20$${'a'.repeat(53)}`, 'cost 20 outside 4..16'],
    ['too much Argon2 memory', '$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', 'memory 4194304 KiB outside'],
    ['a plain password', 'hunter2', 'plain passwords are not accepted'],
  ])('refuses %s, saying why', async (_what, hash, problem) => {
    expect(passwordHashProblem(hash)).toContain(problem);
    expect(isPasswordHash(hash)).toBe(false);
    expect(await verifyPassword('x', hash)).toBe(false);
  });
});

describe('the users file and the login path', { timeout: SLOW_HASHES_MS }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-schemes-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a users file holding Dovecot hashes next to scrypt ones logs every user in through the bounded pool', async () => {
    const users = [
      { address: 'sha@example.com', password: 'sha pw', hash: doveadmPw('SHA512-CRYPT', 'sha pw') },
      { address: 'blf@example.com', password: 'blf pw', hash: doveadmPw('BLF-CRYPT', 'blf pw') },
      { address: 'argon@example.com', password: 'argon pw', hash: doveadmPw('ARGON2ID', 'argon pw') },
      { address: 'scrypt@example.com', password: 'scrypt pw', hash: await hashPassword('scrypt pw', { N: 1024, r: 8, p: 1 }) },
    ];
    const file = join(dir, 'users.yaml');
    await writeFile(file, `users:\n${users.map((u) => `  - address: ${u.address}\n    password: "${u.hash}"\n`).join('')}`);
    const directory = await FileDirectory.open({ file });
    const pool = new PasswordCheckPool({ workers: 2, queueMs: 60_000 });
    const auth = new Authenticator(directory, new LoginLimiter({ perAddress: 1000, perUserAddress: 1000, perUser: 1000, windowMs: 60_000, userDelayMaxMs: 0, pairDelayMs: 1000 }), undefined, {
      passwords: pool,
    });
    const outcomes = await Promise.all(
      users.flatMap((u) => [
        auth.login(u.address, u.password, { ip: '127.0.0.1', protocol: 'imap' }).then((o) => [u.address, 'right', o.ok] as const),
        auth.login(u.address, 'wrong', { ip: '127.0.0.1', protocol: 'imap' }).then((o) => [u.address, 'wrong', o.ok] as const),
      ]),
    );
    expect(outcomes).toEqual(users.flatMap((u) => [[u.address, 'right', true] as const, [u.address, 'wrong', false] as const]));
    // Every check went through the pool (8 real hashes).
    expect(pool.stats()).toMatchObject({ running: 0, queued: 0, hashes: 8 });
  });

  it('a users file with a hash it cannot use is refused, naming the user and the reason', () => {
    const text = `users:\n  - address: a@example.com\n    password: "{SHA512-CRYPT}$6$rounds=9000000$salt$${'a'.repeat(86)}"\n`;
    expect(() => parseUsersFile(text, 'users.yaml')).toThrow(ConfigFileError);
    expect(() => parseUsersFile(text, 'users.yaml')).toThrow(/users\[0\]\.password: SHA512-CRYPT: rounds 9000000 above 1000000/);
  });
});

describe('foreign checks run off the event loop', { timeout: SLOW_HASHES_MS }, () => {
  it('an Argon2id check runs in a worker thread: the event loop keeps turning meanwhile', async () => {
    const hash = doveadmPw('ARGON2ID', 'pw');
    // Warm up first (thread start, WebAssembly compile): what is measured below is the hash itself.
    expect(await verifyPassword('warm up', hash)).toBe(false);
    const before = sharedHashThreads().checks;
    let turns = 0;
    let done = false;
    const check = verifyPassword('pw', hash).finally(() => {
      done = true;
    });
    // On the event loop, 64 MiB of Argon2 would run to the end before a single setImmediate.
    while (!done && turns < 1_000_000) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    expect(await check).toBe(true);
    expect(turns).toBeGreaterThan(20);
    expect(sharedHashThreads().checks).toBe(before + 1);
  });

  it('threads are bounded: more checks than threads wait their turn and all finish', async () => {
    const threads = new HashThreads(2);
    try {
      const hash = doveadmPw('BLF-CRYPT', 'pw', 6);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => threads.verify(i % 2 ? 'pw' : 'no', hash)));
      expect(results).toEqual([false, true, false, true, false, true]);
      expect(threads.size).toBeLessThanOrEqual(2);
    } finally {
      await threads.close();
    }
  });
});
