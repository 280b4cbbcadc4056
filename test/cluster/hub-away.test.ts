import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendTo, loginResult, messageIds, TestCluster, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';

/**
 * The hub is not on the data path (DESIGN.md): a node keeps serving the
 * users it has seen from its cached directory and placement while no hub is
 * reachable, renewing its lease through its storage heartbeat, and a node
 * restarted during the outage serves them too (the caches are on the
 * storage). A user it never saw is "unavailable", never "wrong password".
 */
let cluster: TestCluster;
let users: TestUserSpec[];

beforeAll(async () => {
  ({ cluster, users } = await TestCluster.small({ prefix: 'mf-hub-away-', domain: 'example.test', users: 3, nodes: ['node-a'] }));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Seconds since the hub last answered the node's heartbeat (its /metrics; -1 before the first answer). */
async function heartbeatAgeSeconds(healthPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return Number(/^mailfleet_cluster_heartbeat_age_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? -1);
}

describe('cluster: the hub goes away', () => {
  it('a node serves its cached users without a hub, also after a restart, and never calls an unknown user a wrong password', async () => {
    const [seen, seenToo, unseen] = users as [TestUserSpec, TestUserSpec, TestUserSpec];
    const imap = () => cluster.nodes.get('node-a')!.port('imap');
    expect(await appendTo(imap(), seen, 'with-hub')).toMatch(/^A OK/);
    expect(await loginResult(imap(), seenToo)).toMatch(/^L OK/);

    // The hub process dies (kill -9): nothing tells the node.
    const hub = cluster.hubs.get('hub-0')!;
    hub.child.kill('SIGKILL');
    await hub.exited;

    // Until the node itself has gone longer than dead-after (3 s) without a hub answer, past any lease a hub granted
    // (2.5 s): it renews through the storage, so it still serves. Waited on the node's own gauge, not a fixed sleep.
    const health = cluster.nodes.get('node-a')!.port('health');
    await waitFor(async () => (await heartbeatAgeSeconds(health)) > 3.5, 'node-a longer than dead-after without a hub', 30_000);
    expect(await appendTo(imap(), seen, 'without-hub')).toMatch(/^A OK/);
    expect(await loginResult(imap(), seenToo)).toMatch(/^L OK/);
    expect(await loginResult(imap(), { ...seenToo, password: 'wrong' })).toMatch(/^L NO \[AUTHENTICATIONFAILED\]/);
    expect(await loginResult(imap(), unseen)).toMatch(/^L NO \[UNAVAILABLE\]/);

    // The node restarts while the hub is still away: its cached state and users bring it back.
    await cluster.nodes.get('node-a')!.stop();
    await cluster.startNode('node-a');
    await waitFor(async () => /^L OK/.test(await loginResult(imap(), seen)), 'the restarted node serves a cached user', 15_000);
    expect(await appendTo(imap(), seen, 'after-restart')).toMatch(/^A OK/);
    expect((await messageIds(imap(), seen)).sort()).toEqual(['<afterrestart@example.org>', '<withhub@example.org>', '<withouthub@example.org>']);
    expect(await loginResult(imap(), unseen)).toMatch(/^L NO \[UNAVAILABLE\]/);

    // The hub comes back: the node registers again and serves users it had never seen.
    await cluster.startHub(0);
    await waitFor(async () => /^L OK/.test(await loginResult(imap(), unseen)), 'a new user served once the hub is back', 30_000);
    expect((await messageIds(imap(), seen)).length).toBe(3);
  }, 120_000);
});
