import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginResult, TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';

/**
 * Nodes share their login limiter's memory through the hub like proxies
 * (issue 12; cluster/shared-login-history.ts hubLoginHistory): failed
 * logins of a (user, client address) pair on node A count on node B. The
 * user fails on A (its owner) up to the pair limit, then moves to B; the
 * right password on B is then refused unchecked (`NO [UNAVAILABLE]`, the
 * limiter's answer), while another user from the same address logs in on B.
 */
const PER_PAIR = 3;
let cluster: TestCluster;
let users: TestUserSpec[];

/** The node's view of the hub's answer: pairs at their limit cluster-wide. */
async function sharedPairs(m: RunningMember): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${m.port('health')}/metrics`)).text();
  return Number(/^mailfleet_login_throttle_shared_pairs(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? -1);
}

beforeAll(async () => {
  cluster = await TestCluster.create('mf-node-throttle-');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  await waitFor(async () => !!(await cluster.activeHub().catch(() => undefined)), 'hub active');
  users = await cluster.addUsers('example.test', 6);
  // A refused try makes the pair wait a minute: the test's tries after it are surely inside that wait.
  const limits = { loginFailuresPerUserAddress: PER_PAIR, loginFailuresPerAddress: 100, loginFailuresPerUser: 100, loginPairDelayMs: 60_000 };
  await Promise.all([cluster.startNode('node-a', { limits }), cluster.startNode('node-b', { limits })]);
  await cluster.waitPlacement((p) => p.ring.length === 2, 'both nodes on the ring');
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('node: failed logins counted cluster-wide through the hub', () => {
  it('failures through node A throttle the same (user, address) on node B; another user is not', async () => {
    const p = await cluster.settled();
    const victim = users.find((u) => p.ownerOf(u.address) === 'node-a')!;
    const other = users.find((u) => p.ownerOf(u.address) === 'node-b')!;
    expect(victim).toBeDefined();
    expect(other).toBeDefined();
    const a = cluster.nodes.get('node-a')!;
    const b = cluster.nodes.get('node-b')!;
    const wrong = { ...victim, password: 'not-the-password' };
    for (let i = 0; i < PER_PAIR; i++) expect(await loginResult(a.port('imap'), wrong)).toMatch(/^L NO \[AUTHENTICATIONFAILED\]/);
    await waitFor(async () => (await sharedPairs(b)) === 1, 'node B learns the pair is at its limit', 30_000);

    // The mailbox moves to B: B has seen no failure of this pair itself.
    await cluster.admin('POST', '/v1/placement/move', { address: victim.address, node: 'node-b' });
    await cluster.waitPlacement((q) => q.ownerOf(victim.address) === 'node-b', `${victim.address} on node-b`);
    expect(await loginResult(b.port('imap'), victim)).toMatch(/^L NO \[UNAVAILABLE\] Too many failed logins/);
    expect(await loginResult(b.port('imap'), other)).toMatch(/^L OK/);
  }, 90_000);
});
