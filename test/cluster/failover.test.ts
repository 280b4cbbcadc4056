import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLoad, appendTo, checkLoad, epochMarkers, loginResult, messageIds, TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { imapLogin, message } from '../helpers/imap';
import type { LineClient } from '../helpers/line-client';

/**
 * Hub + 2 nodes as processes on loopback. Owners are computed from the
 * placement the hub publishes (as the proxy will); clients talk IMAP to the
 * nodes directly (the proxy is not written yet).
 */
let cluster: TestCluster;
let users: TestUserSpec[];

beforeAll(async () => {
  ({ cluster, users } = await TestCluster.small({ prefix: 'mf-failover-', domain: 'example.test', users: 12, nodes: ['node-a', 'node-b'] }));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

function node(id: string): RunningMember {
  return cluster.nodes.get(id)!;
}

describe('cluster: placement split across two nodes', () => {
  it('each node owns some users; the owner serves them, the other answers NO [UNAVAILABLE]', async () => {
    const p = await cluster.placement();
    const owners = new Map(users.map((u) => [u.address, p.ownerOf(u.address)]));
    expect(new Set(owners.values())).toEqual(new Set(['node-a', 'node-b']));
    for (const u of users.slice(0, 4)) {
      const owner = owners.get(u.address)!;
      const other = owner === 'node-a' ? 'node-b' : 'node-a';
      expect(await loginResult(node(owner).port('imap'), u)).toMatch(/^L OK/);
      expect(await loginResult(node(other).port('imap'), u)).toMatch(/^L NO \[UNAVAILABLE\]/);
    }
  });
});

describe('cluster: a node process that dies (kill -9)', () => {
  it('has its users reassigned at once (its stream dropped and its ports refuse), and the new owner sees all their mail', async () => {
    const p = await cluster.placement();
    const victim = 'node-a';
    const survivor = 'node-b';
    const theirs = users.filter((u) => p.ownerOf(u.address) === victim);
    expect(theirs.length).toBeGreaterThan(0);
    const u = theirs[0]!;
    for (let i = 0; i < 3; i++) expect(await appendTo(node(victim).port('imap'), u, `before-kill-${i}`)).toMatch(/^A OK/);
    const epochBefore = p.ownerWithEpoch(u.address)!.epoch;

    node(victim).child.kill('SIGKILL');
    const after = await cluster.waitPlacement((q) => q.ownerOf(u.address) === survivor, `${u.address} moved to ${survivor}`);
    const dead = (await cluster.members()).find((m) => m.id === victim)!;
    expect(dead.state).toBe('dead');
    expect(dead.deathReason).toMatch(/process gone/);

    const ids = await messageIds(node(survivor).port('imap'), u);
    expect(ids.sort()).toEqual(['<beforekill0@example.org>', '<beforekill1@example.org>', '<beforekill2@example.org>']);
    const epochAfter = after.ownerWithEpoch(u.address)!.epoch;
    expect(epochAfter).toBeGreaterThan(epochBefore);
    expect((await epochMarkers(cluster.storage, u.address)).at(-1)).toBe(epochAfter);

    // The killed node comes back: it registers as a new incarnation and gets its share again.
    await cluster.startNode(victim);
    await cluster.waitPlacement((q) => q.ring.includes(victim) && q.node(victim)!.incarnation > p.node(victim)!.incarnation, `${victim} back on the ring`);
  });
});

describe('cluster: a silent node (SIGSTOP), then the zombie wakes up (SIGCONT)', () => {
  it('is declared dead after dead-after; once awake it writes nothing to the mailboxes it lost and stops serving them', async () => {
    const p = await cluster.waitPlacement((q) => q.ring.length === 2, 'two nodes on the ring');
    const zombieId = 'node-b';
    const otherId = 'node-a';
    const u = users.find((x) => p.ownerOf(x.address) === zombieId)!;
    const zombie = node(zombieId);

    // A session on the soon-to-be zombie, with a mailbox selected.
    const z: LineClient = await imapLogin(zombie.port('imap'), u.address, u.password);
    expect((await z.command('S', 'SELECT INBOX')).at(-1)).toMatch(/^S OK/);

    let newEpoch: number | undefined;
    zombie.child.kill('SIGSTOP');
    try {
      await cluster.waitPlacement((q) => q.ownerOf(u.address) === otherId, `${u.address} moved away from the silent node`);
      const dead = (await cluster.members()).find((m) => m.id === zombieId)!;
      expect(dead.deathReason).toMatch(/silent for/);
      // The new owner opens the mailbox and takes a message.
      expect(await appendTo(node(otherId).port('imap'), u, 'on-new-owner')).toMatch(/^A OK/);
      newEpoch = (await epochMarkers(cluster.storage, u.address)).at(-1)!;

      // The zombie's client sends an APPEND while the zombie is still stopped; the bytes wait in the socket.
      const msg = Buffer.from(message('from-zombie'));
      z.send(`Z APPEND INBOX {${msg.length}+}`);
      z.write(msg);
      z.write('\r\n');
    } finally {
      zombie.child.kill('SIGCONT');
    }
    const reply = await z.readUntil((l) => l.startsWith('Z ') || l.startsWith('* BYE'));
    expect(reply.at(-1)).not.toMatch(/^Z OK/);

    // The zombie found its lease lapsed and its incarnation over: it registers again and, being
    // alive, gets its share back — through a proposal, at a new epoch above the one in between.
    await cluster.waitPlacement((q) => q.ring.length === 2 && q.node(zombieId)!.incarnation > p.node(zombieId)!.incarnation, 'the zombie back as a new incarnation');
    const owner = (await cluster.settled()).ownerWithEpoch(u.address)!;

    // Nothing from the zombie landed in the mailbox: whoever owns it now sees exactly the new owner's message.
    const ids = await messageIds(node(owner.node).port('imap'), u);
    expect(ids).toEqual(['<onnewowner@example.org>']);
    const [local, domain] = u.address.split('@') as [string, string];
    const files = await readdir(join(cluster.storage, 'mail', domain, local, 'cur'));
    expect(files).toHaveLength(1);

    // The zombie's old session is gone; if the mailbox came back to it, it is at a newer epoch.
    await waitFor(() => z.closed, 'zombie session closed', 10_000);
    if (owner.node === zombieId) expect(owner.epoch).toBeGreaterThan(newEpoch!);
    expect((await epochMarkers(cluster.storage, u.address)).at(-1)).toBe(owner.epoch);
  });
});

describe('cluster: failover under a steady append load (Message-IDs counted)', () => {
  it('kill -9, then SIGSTOP/SIGCONT of an owner: every acknowledged message is there once, nothing is there twice', async () => {
    const loadUsers = await cluster.addUsers('load.test', 4);
    const p = await cluster.settled();
    const owners = new Set(loadUsers.map((u) => p.ownerOf(u.address)));
    expect(owners.size).toBeGreaterThan(0);
    const ids = () => [...cluster.nodes.keys()];

    // Crash: kill -9 one owner after some messages were acknowledged.
    const crashed = p.ownerOf(loadUsers[0]!.address)!;
    let killed = false;
    const crashLoad = await appendLoad(cluster, 'crash', loadUsers, 6, (n) => {
      if (n === 8 && !killed) {
        killed = true;
        node(crashed).child.kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    const c1 = await checkLoad(cluster, loadUsers, crashLoad);
    expect(c1.acked).toBe(4 * 6);

    // The crashed node comes back and takes its share again; then a silent loss of an owner.
    await cluster.startNode(crashed);
    const q = await cluster.waitPlacement((x) => x.ring.length === ids().length, 'the crashed node back on the ring');
    await cluster.settled();
    const silent = q.ownerOf(loadUsers[1]!.address)!;
    let stopped = false;
    const silentLoad = await appendLoad(cluster, 'silent', loadUsers, 6, (n) => {
      if (n === 8 && !stopped) {
        stopped = true;
        node(silent).child.kill('SIGSTOP');
        // Woken once its mailboxes have moved: a zombie with sessions and queued bytes.
        void cluster.waitPlacement((x) => !loadUsers.some((u) => x.ownerOf(u.address) === silent), 'the silent node lost its mailboxes', 60_000).finally(() => node(silent).child.kill('SIGCONT'));
      }
    });
    expect(stopped).toBe(true);
    node(silent).child.kill('SIGCONT');
    await cluster.settled();
    // The mailboxes now hold both loads: every message acknowledged in either is there exactly once, and nothing else.
    const both = { acked: new Map(loadUsers.map((u) => [u.address, [...crashLoad.acked.get(u.address)!, ...silentLoad.acked.get(u.address)!]])), sent: new Map(loadUsers.map((u) => [u.address, new Set([...crashLoad.sent.get(u.address)!, ...silentLoad.sent.get(u.address)!])])), failures: 0 };
    const all = await checkLoad(cluster, loadUsers, both);
    expect(all.acked).toBe(4 * 12);
  }, 240_000);
});
