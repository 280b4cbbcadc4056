import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginResult, TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';

/**
 * Cluster-wide login throttling (issue 12): failed logins per (user,
 * client address) are counted over every proxy through the hub, so
 * guesses spread over two proxies are throttled as if they came through
 * one. Each proxy alone has seen fewer failures than its limit; together
 * they reach it, and the next try through either proxy is refused
 * unchecked (IMAP `NO [UNAVAILABLE]`), while another user from the same
 * address logs in. The node behind them gets limits high enough that its
 * own limiter (it sees every login of the user) stays out of the way.
 */
const PER_PAIR = 4;
let cluster: TestCluster;
let users: TestUserSpec[];
let a: RunningMember;
let b: RunningMember;

/** The proxy's view of the hub's answer: pairs at their limit cluster-wide. */
async function sharedPairs(p: RunningMember): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.port('health')}/metrics`)).text();
  return Number(/^mailfleet_login_throttle_shared_pairs(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? -1);
}

beforeAll(async () => {
  cluster = await TestCluster.create('mf-shared-throttle-');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  await waitFor(async () => !!(await cluster.activeHub().catch(() => undefined)), 'hub active');
  users = await cluster.addUsers('example.test', 2);
  await cluster.startNode('node-a', { limits: { loginFailuresPerAddress: 1000, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000 } });
  await cluster.waitPlacement((p) => p.ring.length === 1, 'the node on the ring');
  // A first refused try makes the pair wait a minute: the test's tries after it are surely inside that wait.
  const limits = { loginFailuresPerUserAddress: PER_PAIR, loginFailuresPerAddress: 100, loginPairDelayMs: 60_000 };
  [a, b] = await Promise.all([cluster.startProxy('proxy-a', { limits }), cluster.startProxy('proxy-b', { limits })]);
  await waitFor(async () => (await sharedPairs(a)) === 0 && (await sharedPairs(b)) === 0, 'both proxies report to the hub');
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('proxy: failed logins counted cluster-wide through the hub', () => {
  it('failures split over two proxies throttle the (user, address) pair on both; another user from the same address is not', async () => {
    const [victim, other] = users as [TestUserSpec, TestUserSpec];
    const wrong = { ...victim, password: 'not-the-password' };
    // Half the limit through each proxy: neither reaches it alone.
    for (const p of [a, b, a, b]) expect(await loginResult(p.port('imap'), wrong)).toMatch(/^L NO \[AUTHENTICATIONFAILED\]/);
    await waitFor(async () => (await sharedPairs(a)) === 1 && (await sharedPairs(b)) === 1, 'both proxies learn the pair is at its limit');

    // The next try through either proxy is refused without a password check, even with the right password.
    expect(await loginResult(a.port('imap'), wrong)).toMatch(/^L NO \[UNAVAILABLE\]/);
    expect(await loginResult(b.port('imap'), victim)).toMatch(/^L NO \[UNAVAILABLE\]/);
    // Another user from the same address is not throttled.
    expect(await loginResult(b.port('imap'), other)).toMatch(/^L OK/);
    expect(await loginResult(a.port('imap'), other)).toMatch(/^L OK/);
  }, 60_000);
});
