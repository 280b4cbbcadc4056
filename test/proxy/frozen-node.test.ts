import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginResult, TestCluster, type TestUserSpec } from '../helpers/cluster';
import { api, waitFor } from '../helpers/hub';
import { imapConnect } from '../helpers/imap';

/**
 * A login the proxy is replaying on a node that froze (SIGSTOP: its kernel
 * still accepts the connection, nothing answers) is called off when the
 * hub moves the mailbox away, not at the backend timeout (set to 600 s
 * here, so the test would run into its own bound without the call-off):
 * the client gets NO [UNAVAILABLE] then, never before the move, and its
 * next attempt is served by the new owner (issue 12: a silent node's users
 * served again through the proxy within dead-after + 1 s).
 */
let cluster: TestCluster;
let users: TestUserSpec[];
let proxyImap: number;
let hubUrl: string;

beforeAll(async () => {
  cluster = await TestCluster.create('mf-proxy-frozen-');
  await cluster.planHubs(1);
  // A longer dead-after than the default: the login below is surely pending at the frozen node before the move.
  await cluster.startHub(0, { deadAfterSeconds: 6 });
  hubUrl = await cluster.waitActive();
  users = await cluster.addUsers('frozen.test', 4);
  await Promise.all([cluster.startNode('node-a'), cluster.startNode('node-b')]);
  await cluster.waitPlacement((p) => p.ring.length === 2, 'both nodes on the ring');
  const proxy = await cluster.startProxy('proxy-0', { proxy: { backendTimeoutSeconds: 600 } });
  proxyImap = proxy.port('imap');
}, 300_000);

afterAll(async () => {
  for (const n of cluster?.nodes.values() ?? []) {
    if (n.child.exitCode === null && n.child.signalCode === null) {
      n.child.kill('SIGKILL');
      n.child.kill('SIGCONT');
    }
  }
  await cluster?.stop();
}, 60_000);

describe('proxy: a login pending at a frozen node', () => {
  it('is answered NO [UNAVAILABLE] once the mailbox moves (not at the backend timeout), and the retry reaches the new owner', async () => {
    const placement = await cluster.placement();
    const u = users.find((x) => placement.ownerOf(x.address) === 'node-b') ?? users[0]!;
    const owner = placement.ownerOf(u.address)!;
    const victim = cluster.nodes.get(owner)!;
    // The proxy routes the user to its owner now (bounded retries while it catches up with the placement).
    await waitFor(async () => (await loginResult(proxyImap, u)).startsWith('L OK'), `${u.address} logs in through the proxy`, 30_000);

    victim.child.kill('SIGSTOP');
    const { c } = await imapConnect(proxyImap);
    try {
      c.send(`L LOGIN "${u.address}" "${u.password}"`);
      const answer = (await c.readUntil((l) => l.startsWith('L '), 60_000)).at(-1)!;
      expect(answer).toMatch(/^L NO \[UNAVAILABLE\]/);
    } finally {
      c.socket.destroy();
    }
    // Called off because of the move, so the move came first.
    const after = await api<{ nodes: { id: string; state: string }[] }>(hubUrl, 'GET', '/v1/placement');
    expect(after.body.nodes.find((n) => n.id === owner)?.state).toBe('dead');

    await waitFor(async () => (await loginResult(proxyImap, u)).startsWith('L OK'), `${u.address} served again through the proxy`, 30_000);
    expect((await cluster.placement()).ownerOf(u.address)).not.toBe(owner);
  }, 120_000);
});
