import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageIds, TestCluster, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { sendViaMx, type MxReplies } from '../helpers/smtp';

/**
 * The gateway in a cluster expands what the hub's directory says an address
 * is before it routes (RFC 5321 §3.9): every target of an alias gets the
 * message, wherever its mailbox is placed, and a mailbox that forwards
 * delivers to its forwarding addresses (and to itself when it keeps a copy).
 * Hub, two nodes and a gateway as real processes; SMTP in, IMAP out.
 */
let cluster: TestCluster;
let users: TestUserSpec[];
let mx: number;

beforeAll(async () => {
  ({ cluster, users } = await TestCluster.small({ prefix: 'mf-gw-alias-', domain: 'alias.test', users: 4, nodes: ['node-a', 'node-b'], gateway: 'gw-0' }));
  mx = cluster.gateways.get('gw-0')!.port('smtp');
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** One message through the gateway's MX; the reply to each RCPT and to the data. */
const send = (rcpts: readonly string[], subject: string): Promise<MxReplies> => sendViaMx(mx, rcpts, subject);

/** Waits (bounded) until `u`'s INBOX, read from the node that owns it, holds the Message-ID; returns all its IDs then. */
async function arrives(u: TestUserSpec, id: string): Promise<string[]> {
  let ids: string[] = [];
  await waitFor(
    async () => {
      const owner = (await cluster.placement()).ownerOf(u.address)!;
      ids = await messageIds(cluster.nodes.get(owner)!.port('imap'), u).catch(() => []);
      return ids.includes(id);
    },
    `${id} in ${u.address}`,
    30_000,
  );
  return ids;
}

describe('gateway in a cluster: aliases and forwarding expand before routing', () => {
  it('an alias with targets on both nodes delivers to every target, once each', async () => {
    const p = await cluster.placement();
    const a = users.find((u) => p.ownerOf(u.address) === 'node-a')!;
    const b = users.find((u) => p.ownerOf(u.address) === 'node-b')!;
    await cluster.admin('POST', '/v1/aliases', { address: 'team@alias.test', targets: [a.address, b.address] });
    const r = await send(['team@alias.test'], 'team1');
    expect(r.rcpt[0]).toMatch(/^250/);
    expect(r.data).toMatch(/^250/);
    for (const u of [a, b]) expect((await arrives(u, '<team1@example.org>')).filter((x) => x === '<team1@example.org>')).toHaveLength(1);
  });

  it('a mailbox that forwards (keeping a copy) delivers to itself and to its forwarding address; without the copy only there', async () => {
    // Users the gateway has not been asked about yet: it keeps a recipient's answer for a short while.
    const [fwd, dest, nocopy, dest2] = (await cluster.addUsers('fwd.test', 4)) as [TestUserSpec, TestUserSpec, TestUserSpec, TestUserSpec];
    await cluster.admin('PATCH', `/v1/users/${encodeURIComponent(fwd.address)}`, { forwardTo: [dest.address], keepCopy: true });
    await cluster.admin('PATCH', `/v1/users/${encodeURIComponent(nocopy.address)}`, { forwardTo: [dest2.address], keepCopy: false });
    expect((await send([fwd.address], 'fwd1')).data).toMatch(/^250/);
    expect(await arrives(dest, '<fwd1@example.org>')).toContain('<fwd1@example.org>');
    expect(await arrives(fwd, '<fwd1@example.org>')).toContain('<fwd1@example.org>');
    expect((await send([nocopy.address], 'fwd2')).data).toMatch(/^250/);
    expect(await arrives(dest2, '<fwd2@example.org>')).toContain('<fwd2@example.org>');
    const owner = (await cluster.placement()).ownerOf(nocopy.address)!;
    expect(await messageIds(cluster.nodes.get(owner)!.port('imap'), nocopy)).not.toContain('<fwd2@example.org>');
  });

  it('an alias whose every target is gone is an unknown user (550 5.1.1); a loop in the directory is not a hang', async () => {
    await cluster.admin('POST', '/v1/aliases', { address: 'loop1@alias.test', targets: ['loop2@alias.test'] });
    await cluster.admin('POST', '/v1/aliases', { address: 'loop2@alias.test', targets: ['loop1@alias.test'] });
    const r = await send(['loop1@alias.test', 'nobody@alias.test'], 'loop');
    expect(r.rcpt[1]).toMatch(/^550 5\.1\.1/);
    expect(r.rcpt[0]).toMatch(/^[45]\d\d /);
  });
});
