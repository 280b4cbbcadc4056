import { describe, expect, it } from 'vitest';
import {
  Authenticator,
  LoginLimiter,
  PasswordCheckPool,
  PasswordChecksBusy,
  StaticDirectory,
  hashPassword,
  type CheckPriority,
  type PasswordVerifier,
} from '../../mail-runtime/auth';

const FAST = { N: 1024, r: 8, p: 1 };
/** Slow enough that a queue forms behind one worker. */
const SLOW = { N: 1 << 14, r: 8, p: 1 };

describe('PasswordCheckPool', () => {
  it('runs at most `workers` hashes at once and starts the queue by priority: known, clean, suspect', async () => {
    const pool = new PasswordCheckPool({ workers: 1, queueMs: 60_000 });
    const slow = await hashPassword('pw', SLOW);
    const order: string[] = [];
    const run = (label: string, priority: CheckPriority) => pool.verifier(priority).verify('pw', slow).then((ok) => order.push(`${label}:${ok}`));
    const first = run('first', 'suspect');
    const queued = [run('suspect', 'suspect'), run('clean', 'clean'), run('known', 'known')];
    expect(pool.stats()).toMatchObject({ workers: 1, running: 1, queued: 3 });
    await Promise.all([first, ...queued]);
    expect(order).toEqual(['first:true', 'known:true', 'clean:true', 'suspect:true']);
    expect(pool.stats()).toMatchObject({ running: 0, queued: 0, hashes: 4 });
  });

  it('keeps one of several workers for logins from a known address', async () => {
    const pool = new PasswordCheckPool({ workers: 2, queueMs: 60_000 });
    const slow = await hashPassword('pw', SLOW);
    const flood = [pool.verifier('clean').verify('x', slow), pool.verifier('suspect').verify('x', slow)];
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
    const known = pool.verifier('known').verify('pw', slow);
    expect(pool.stats()).toMatchObject({ running: 2, queued: 1 });
    expect(await Promise.all([known, ...flood])).toEqual([true, false, false]);
  });

  it('a check that cannot start within queueMs fails with PasswordChecksBusy, and the pool goes on', async () => {
    const busy: CheckPriority[] = [];
    const pool = new PasswordCheckPool({ workers: 1, queueMs: 100 }, (p) => busy.push(p));
    const slow = await hashPassword('pw', { N: 1 << 15, r: 8, p: 1 });
    // Each check takes tens of ms: of ten queued behind one worker, some cannot start within 100 ms.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => pool.verifier('clean').verify('pw', slow)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PasswordChecksBusy);
    expect(busy.length).toBe(refused.length);
    expect(pool.stats()).toMatchObject({ running: 0, queued: 0 });
    expect(await pool.verifier('known').verify('pw', slow)).toBe(true);
  });

  it('an unknown user costs no hash once real checks have been timed, and answers false', async () => {
    const pool = new PasswordCheckPool({ workers: 2, queueMs: 2000 });
    const h = await hashPassword('pw', FAST);
    expect(await pool.verifier('clean').verify('nope', h)).toBe(false);
    const before = pool.stats().hashes;
    const answers = await Promise.all(Array.from({ length: 50 }, () => pool.verifier('clean').unknownUser('guess')));
    expect(answers.every((a) => a === false)).toBe(true);
    expect(pool.stats().hashes).toBe(before);
  });

  it('without any real check to imitate, an unknown user gets one real check, shared by all waiting', async () => {
    const pool = new PasswordCheckPool({ workers: 2, queueMs: 10_000 });
    await Promise.all(Array.from({ length: 20 }, () => pool.verifier('clean').unknownUser('guess')));
    expect(pool.stats().hashes).toBe(1);
  });
});

describe('Authenticator', () => {
  async function setup(opts: { failuresPerConnection?: number; passwords?: PasswordCheckPool } = {}) {
    const hash = await hashPassword('right', FAST);
    const directory = StaticDirectory.fromText(`users:\n  - address: u@x\n    password: "${hash}"\n`);
    const limiter = new LoginLimiter({ perAddress: 100, perUserAddress: 100, perUser: 100, windowMs: 60_000, userDelayMaxMs: 0, pairDelayMs: 1000 });
    return new Authenticator(directory, limiter, undefined, { failuresPerConnection: 3, ...opts });
  }

  it(`says to hang up after the connection's third failure; other connections are not affected; a success starts over`, async () => {
    const auth = await setup();
    const ctx = { ip: '10.0.0.1', connectionId: 'c1' };
    expect(await auth.login('u@x', 'wrong', ctx)).toEqual({ ok: false, reason: 'failed', disconnect: false });
    expect(await auth.login('nobody@x', 'wrong', ctx)).toEqual({ ok: false, reason: 'failed', disconnect: false });
    expect(await auth.login('u@x', 'wrong', { ip: '10.0.0.1', connectionId: 'c2' })).toEqual({ ok: false, reason: 'failed', disconnect: false });
    expect(await auth.login('u@x', 'wrong', ctx)).toEqual({ ok: false, reason: 'failed', disconnect: true });
    expect(await auth.login('u@x', 'wrong', { ip: '10.0.0.1', connectionId: 'c3' })).toMatchObject({ disconnect: false });
    expect(await auth.login('u@x', 'right', { ip: '10.0.0.1', connectionId: 'c3' })).toMatchObject({ ok: true });
  });

  it('refusals by the failure limits count on the connection too', async () => {
    const hash = await hashPassword('right', FAST);
    const directory = StaticDirectory.fromText(`users:\n  - address: u@x\n    password: "${hash}"\n`);
    const limiter = new LoginLimiter({ perAddress: 1, perUserAddress: 100, perUser: 100, windowMs: 60_000, userDelayMaxMs: 0, pairDelayMs: 1000 });
    const auth = new Authenticator(directory, limiter, undefined, { failuresPerConnection: 2 });
    const ctx = { ip: '10.0.0.1', connectionId: 'c1' };
    expect(await auth.login('u@x', 'wrong', ctx)).toEqual({ ok: false, reason: 'failed', disconnect: false });
    expect(await auth.login('u@x', 'right', ctx)).toEqual({ ok: false, reason: 'throttled', disconnect: true });
  });

  it('no free password check within the deadline: unavailable, not counted against the connection', async () => {
    const stuck: PasswordVerifier = {
      verify: () => Promise.reject(new PasswordChecksBusy()),
      unknownUser: () => Promise.reject(new PasswordChecksBusy()),
    };
    const pool = new PasswordCheckPool({ workers: 1, queueMs: 100 });
    pool.verifier = () => stuck;
    const auth = await setup({ failuresPerConnection: 1, passwords: pool });
    expect(await auth.login('u@x', 'right', { ip: '10.0.0.1', connectionId: 'c1' })).toEqual({ ok: false, reason: 'unavailable', disconnect: false });
  });
});
