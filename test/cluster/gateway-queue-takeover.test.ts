import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageIds, TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { dataBlock, mail, smtp, smtpConnect } from '../helpers/smtp';

/**
 * Queue takeover of a gateway that is gone (issue 12; hub/queues): the
 * node is frozen (SIGSTOP) so mail accepted by gateway A stays in A's
 * queue; A is killed (kill -9); the hub declares it dead (stream dropped,
 * ports refuse) and after the grace gives A's folder to gateway B at the
 * next epoch; B delivers it once the node is back. Every message arrives
 * exactly once (Message-IDs counted in the mailbox), the takeover shows in
 * the admin API and the activity log, and A, restarted, queues in a new
 * folder and delivers nothing from the one it lost.
 */
const MESSAGES = 5;
let cluster: TestCluster;
let user: TestUserSpec;
let gwA: RunningMember;

async function metric(m: RunningMember, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${m.port('health')}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

const DELIVERED = /^mailfleet_queue_deliveries_total\{[^}]*status="delivered"[^}]*\} (\d+)/m;

beforeAll(async () => {
  cluster = await TestCluster.create('mf-gw-takeover-');
  await cluster.planHubs(1);
  // Dead-after long enough that the frozen node is not declared dead meanwhile; a short grace for the takeover.
  await cluster.startHub(0, { deadAfterSeconds: 30, gatewayQueueTakeoverSeconds: 1 });
  await waitFor(async () => !!(await cluster.activeHub().catch(() => undefined)), 'hub active');
  [user] = (await cluster.addUsers('takeover.test', 1)) as [TestUserSpec];
  await cluster.startNode('node-a');
  await cluster.waitPlacement((p) => p.ring.length === 1, 'the node on the ring');
  gwA = await cluster.startGateway('gw-a', { hostname: 'mx-a.test' });
  await cluster.startGateway('gw-b', { hostname: 'mx-b.test' });
  await waitFor(async () => (await cluster.members()).filter((m) => m.id.startsWith('gw-') && m.state === 'live').length === 2, 'both gateways registered');
}, 120_000);

afterAll(async () => {
  // A frozen node would not stop on SIGTERM.
  cluster?.nodes.get('node-a')?.child.kill('SIGCONT');
  await cluster?.stop();
});

async function send(port: number, subject: string): Promise<string> {
  const { c } = await smtpConnect(port);
  try {
    await smtp(c, 'EHLO client.example.org');
    expect(await smtp(c, 'MAIL FROM:<someone@example.org>')).toMatch(/^250/);
    expect(await smtp(c, `RCPT TO:<${user.address}>`)).toMatch(/^250/);
    expect(await smtp(c, 'DATA')).toMatch(/^354/);
    return await smtp(c, dataBlock(mail({ to: user.address, subject, messageId: `<${subject}@example.org>` })));
  } finally {
    c.socket.destroy();
  }
}

describe('gateway queue takeover', () => {
  it('a killed gateway’s queued mail is delivered once by another gateway; the returning gateway delivers none of it', async () => {
    const node = cluster.nodes.get('node-a')!;
    node.child.kill('SIGSTOP');
    try {
      for (let i = 0; i < MESSAGES; i++) expect(await send(gwA.port('smtp'), `queued${i}`)).toMatch(/^250/);
      gwA.child.kill('SIGKILL');
      await gwA.exited;
    } finally {
      node.child.kill('SIGCONT');
    }

    const expected = Array.from({ length: MESSAGES }, (_, i) => `<queued${i}@example.org>`);
    let ids: string[] = [];
    await waitFor(
      async () => {
        ids = await messageIds(node.port('imap'), user).catch(() => []);
        return expected.every((id) => ids.includes(id));
      },
      'every queued message delivered',
      60_000,
    );

    const queues = await cluster.admin<{ graceSeconds: number; takeovers: { folder: string; from: string; to: string; epoch: number; claimed: boolean }[] }>('GET', '/v1/queues');
    expect(queues.graceSeconds).toBe(1);
    const t = queues.takeovers.find((x) => x.folder === 'gw-a')!;
    expect(t).toMatchObject({ from: 'gw-a', to: 'gw-b' });
    await waitFor(async () => (await cluster.admin<typeof queues>('GET', '/v1/queues')).takeovers.some((x) => x.folder === 'gw-a' && x.claimed), 'the takeover shown as claimed');
    const events = await cluster.admin<{ events: { kind: string; detail: string }[] }>('GET', '/v1/events');
    expect(events.events.some((e) => e.kind === 'queue-takeover' && e.detail.includes('gw-a') && e.detail.includes('gw-b'))).toBe(true);
    // The folder's newest epoch marker names gw-b at the assigned epoch.
    const markers = (await readdir(join(cluster.storage, 'queue', 'gw-a', 'epochs'))).filter((n) => /^\d+$/.test(n)).map(Number);
    expect(Math.max(...markers)).toBe(t.epoch);
    expect(JSON.parse(await readFile(join(cluster.storage, 'queue', 'gw-a', 'epochs', String(t.epoch)), 'utf8'))).toMatchObject({ memberId: 'gw-b' });

    // gw-a returns with the same id: it queues in a new folder and delivers nothing from the one it lost.
    const back = await cluster.startGateway('gw-a', { hostname: 'mx-a.test' });
    expect(back.ready.queueFolder).not.toBe('gw-a');
    await waitFor(async () => (await cluster.members()).some((m) => m.id === 'gw-a' && m.state === 'live'), 'gw-a registered again');
    // New mail through it still arrives (through its new folder), once.
    expect(await send(back.port('smtp'), 'after-return')).toMatch(/^250/);
    await waitFor(
      async () => {
        ids = await messageIds(node.port('imap'), user).catch(() => []);
        return ids.includes('<after-return@example.org>');
      },
      'mail through the returned gateway delivered',
      60_000,
    );
    expect(await metric(back, DELIVERED)).toBe(1);
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(dupes).toEqual([]);
    expect(ids.sort()).toEqual([...expected, '<after-return@example.org>'].sort());
  }, 180_000);
});
