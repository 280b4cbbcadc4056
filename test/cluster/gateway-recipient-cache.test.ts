import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { dataBlock, mail, smtp, smtpConnect } from '../helpers/smtp';

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
  cluster = await TestCluster.create('mf-gw-rcache-');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  await waitFor(async () => !!(await cluster.activeHub().catch(() => undefined)), 'hub active');
  users = await cluster.addUsers('rcache.test', 2);
  await cluster.startNode('node-a');
  await cluster.waitPlacement((p) => p.ring.length === 1, 'the node on the ring');
  await cluster.startGateway('gw-0');
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** One message through the gateway's MX; the reply to each RCPT and to the data. */
async function send(mx: number, rcpts: readonly string[], subject: string): Promise<{ rcpt: string[]; data: string }> {
  const { c } = await smtpConnect(mx);
  try {
    await smtp(c, 'EHLO client.example.org');
    expect(await smtp(c, 'MAIL FROM:<someone@example.org>')).toMatch(/^250/);
    const rcpt: string[] = [];
    for (const r of rcpts) rcpt.push(await smtp(c, `RCPT TO:<${r}>`));
    if (!rcpt.some((r) => r.startsWith('250'))) return { rcpt, data: '' };
    expect(await smtp(c, 'DATA')).toMatch(/^354/);
    const data = await smtp(c, dataBlock(mail({ to: rcpts[0]!, subject, messageId: `<${subject}@example.org>` })));
    return { rcpt, data };
  } finally {
    c.socket.destroy();
  }
}

describe('gateway recipient cache survives a restart without a hub', () => {
  it('learns recipients, hub killed, gateway restarted: known recipients accepted, an unknown one 450 4.4.3', async () => {
    const [alice, bob] = users as [TestUserSpec, TestUserSpec];
    const first = await send(cluster.gateways.get('gw-0')!.port('smtp'), [alice.address], 'before');
    expect(first.data).toMatch(/^250/);
    // Wait (bounded) until the answer is on the gateway's storage, versioned.
    const file = join(cluster.storage, 'members', 'gw-0', 'recipients.json');
    await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')).includes(alice.address), 'the recipient cache file', 30_000);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { version: number; recipients: { address: string }[] };
    expect(saved.version).toBe(1);

    for (const h of cluster.hubs.values()) await h.stop();
    await cluster.gateways.get('gw-0')!.stop();
    const mx = (await cluster.startGateway('gw-0')).port('smtp');

    const after = await send(mx, [alice.address, bob.address, 'nobody@rcache.test'], 'after');
    expect(after.rcpt[0]).toMatch(/^250 /);
    // Never asked about before the hub went away: unknown now, so try later — not "no such user".
    expect(after.rcpt[1]).toMatch(/^450 4\.4\.3 /);
    expect(after.rcpt[2]).toMatch(/^450 4\.4\.3 /);
    // Accepted into the durable queue (250 only after fsync); delivery waits for the node's lease, which needs a hub.
    expect(after.data).toMatch(/^250/);
  });
});
