import { afterAll, describe, expect, it } from 'vitest';
import { appendLoad, checkLoad, TestCluster, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';

/**
 * Drain a node and add a node while a steady append load runs (issue 12
 * "Tests that must exist"): hub + 2 node processes on loopback, then a
 * third. Every acknowledged APPEND is in its mailbox exactly once afterwards
 * (Message-ID counts), nothing is there that was not sent, the drained node
 * owns nothing and the added node took its share.
 */
let cluster: TestCluster | undefined;
const USERS = 8;
const ROUNDS = 8;

afterAll(async () => {
  await cluster?.stop();
});

describe('cluster: drain a node and add a node under load', () => {
  it('moves mailboxes with no acknowledged message lost or duplicated; the drained node ends with no mailboxes', async () => {
    const c = (cluster = await TestCluster.create('mf-drain-'));
    await c.planHubs(1);
    await c.startHub(0);
    await waitFor(async () => !!(await c.activeHub().catch(() => undefined)), 'hub active', 120_000);
    const users: TestUserSpec[] = await c.addUsers('example.test', USERS);
    await Promise.all([c.startNode('node-a', { limits: { loginFailuresPerAddress: 1000 } }), c.startNode('node-b', { limits: { loginFailuresPerAddress: 1000 } })]);
    await c.waitPlacement((p) => p.ring.length === 2, 'both nodes on the ring', 120_000);
    await c.settled(120_000);
    const before = await c.placement();
    expect(users.some((u) => before.ownerOf(u.address) === 'node-a')).toBe(true);

    // Triggers pulled from inside the load: drain node-a after a few acknowledged APPENDs, add node-c later.
    let drain: Promise<unknown> | undefined;
    let added: Promise<unknown> | undefined;
    const load = await appendLoad(c, 'move', users, ROUNDS, (n) => {
      if (n === 6 && !drain) drain = c.admin('POST', '/v1/placement/drain', { node: 'node-a' });
      if (n === 3 * USERS && !added) added = c.startNode('node-c', { limits: { loginFailuresPerAddress: 1000 } });
    });
    expect(drain).toBeDefined();
    expect(added).toBeDefined();
    await drain;
    await added;
    await c.waitPlacement((p) => p.ring.includes('node-c'), 'node-c on the ring', 120_000);
    const after = await c.settled(120_000);

    const result = await checkLoad(c, users, load);
    expect(result.acked).toBe(USERS * ROUNDS);
    const owners = users.map((u) => after.ownerOf(u.address));
    expect(owners.filter((o) => o === 'node-a')).toEqual([]);
    expect(owners).toContain('node-c');
    // The drained node stays drained: off the ring, serving nothing.
    expect(after.ring).not.toContain('node-a');
  }, 600_000);
});
