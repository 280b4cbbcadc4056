import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { sendViaMx } from '../helpers/smtp';

/**
 * The gateway keeps the hub's recipient answers on its storage
 * (`members/<id>/recipients.json`, atomic and versioned) beside the
 * placement cache: a gateway restarted while no hub answers still accepts
 * mail for the recipients it knew, and answers an address it never asked
 * about with 450 4.4.3 (try later), never 550. Hub, node and gateway as
 * real processes.
 */
let cluster: TestCluster;
let users: TestUserSpec[];

beforeAll(async () => {
  ({ cluster, users } = await TestCluster.small({ prefix: 'mf-gw-rcache-', domain: 'rcache.test', users: 2, nodes: ['node-a'], gateway: 'gw-0' }));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('gateway recipient cache survives a restart without a hub', () => {
  it('learns recipients, hub killed, gateway restarted: known recipients accepted, an unknown one 450 4.4.3', async () => {
    const [alice, bob] = users as [TestUserSpec, TestUserSpec];
    const first = await sendViaMx(cluster.gateways.get('gw-0')!.port('smtp'), [alice.address], 'before');
    expect(first.data).toMatch(/^250/);
    // Wait (bounded) until the answer is on the gateway's storage, versioned.
    const file = join(cluster.storage, 'members', 'gw-0', 'recipients.json');
    await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')).includes(alice.address), 'the recipient cache file', 30_000);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { version: number; recipients: { address: string }[] };
    expect(saved.version).toBe(1);

    for (const h of cluster.hubs.values()) await h.stop();
    await cluster.gateways.get('gw-0')!.stop();
    const mx = (await cluster.startGateway('gw-0')).port('smtp');

    const after = await sendViaMx(mx, [alice.address, bob.address, 'nobody@rcache.test'], 'after');
    expect(after.rcpt[0]).toMatch(/^250 /);
    // Never asked about before the hub went away: unknown now, so try later — not "no such user".
    expect(after.rcpt[1]).toMatch(/^450 4\.4\.3 /);
    expect(after.rcpt[2]).toMatch(/^450 4\.4\.3 /);
    // Accepted into the durable queue (250 only after fsync); delivery waits for the node's lease, which needs a hub.
    expect(after.data).toMatch(/^250/);
  });
});
