import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type TestUserSpec } from '../../helpers/cluster';
import { CLUSTER_PROTOCOL_VERSION } from '../../../mail-runtime/hub/protocol';
import { api, CLUSTER_TOKEN, waitFor } from '../../helpers/hub';
import { deliverViaMx } from '../../helpers/smtp';
import { startSink, type Sink } from '../../helpers/smtp-sink';

/**
 * The performance figures of issue 16 end to end: a hub, a node and a
 * gateway as real processes; mail through the gateway's MX to hosted users
 * (LMTP to the node), to a remote domain (delivered to a sink MX) and to a
 * domain whose MX answers 451 (stays queued). The members send their
 * counters with their heartbeats and the hub's `/v1/metrics/history` shows
 * them: messages in at the gateway and the node, out at the gateway, the
 * queue depth and the delivery latency. The history and the event timeline
 * survive a hub takeover (written to the hub's storage).
 */
const HOSTED = 3;
const REMOTE = 2;
const DEFERRED = 2;

let cluster: TestCluster;
let users: TestUserSpec[];
let sink: Sink;
let deferring: Sink;
let mx: number;

beforeAll(async () => {
  sink = await startSink();
  deferring = await startSink({ rcpt: () => ({ code: 451, message: '4.3.0 try again later' }) });
  cluster = await TestCluster.create('mf-perf-');
  // Two hubs: the last test stops the active one and reads the history from the standby that takes over.
  await cluster.planHubs(2);
  await cluster.startHub(0);
  await waitFor(async () => (await cluster.activeHub().catch(() => undefined)) === cluster.hubUrls[0], 'hub-0 active');
  await cluster.startHub(1);
  users = await cluster.addUsers('perf.test', HOSTED);
  await cluster.startNode('node-a');
  await cluster.waitPlacement((p) => p.ring.length === 1, 'node-a on the ring');
  mx = (
    await cluster.startGateway('gw-0', {
      relayNetworks: ['127.0.0.0/8'],
      outbound: { routes: { 'remote.test': `127.0.0.1:${sink.port}`, 'slow.test': `127.0.0.1:${deferring.port}` } },
    })
  ).port('smtp');
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await sink?.close();
  await deferring?.close();
});

type History = { sampleMs: number; members: Record<string, { t: number; stats: Record<string, number> }[]> };

/** The newest sample the hub kept for `member`. */
async function latest(member: string): Promise<Record<string, number> | undefined> {
  const h = await cluster.admin<History>('GET', '/v1/metrics/history');
  return h.members[member]?.at(-1)?.stats;
}

describe('performance figures from heartbeats into the hub’s history', () => {
  it('messages in/out, queue depth and delivery latency of the gateway and the node show in /v1/metrics/history', async () => {
    for (let i = 0; i < HOSTED; i++) await deliverViaMx(mx, users[i]!.address, `hosted${i}`);
    for (let i = 0; i < REMOTE; i++) await deliverViaMx(mx, `far${i}@remote.test`, `remote${i}`);
    for (let i = 0; i < DEFERRED; i++) await deliverViaMx(mx, `late${i}@slow.test`, `slow${i}`);
    await waitFor(() => sink.messages.length === REMOTE, 'the remote MX to receive its messages', 30_000);

    let gw: Record<string, number> | undefined;
    await waitFor(
      async () => {
        gw = await latest('gw-0');
        return gw?.messagesIn === HOSTED + REMOTE + DEFERRED && gw.messagesOut === REMOTE && gw.queueDepth === DEFERRED;
      },
      'the gateway’s figures in the history',
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last: ${JSON.stringify(gw)}`);
    });
    // Latency: accepted-to-delivered over the LMTP and remote deliveries; p99 never below p50.
    expect(gw!.deliveryP50Ms).toBeGreaterThanOrEqual(0);
    expect(gw!.deliveryP99Ms).toBeGreaterThanOrEqual(gw!.deliveryP50Ms!);

    let node: Record<string, number> | undefined;
    await waitFor(
      async () => {
        node = await latest('node-a');
        return node?.messagesIn === HOSTED;
      },
      'the node’s deliveries in the history',
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last: ${JSON.stringify(node)}`);
    });
  });

  it('a heartbeat with a nonsense figure is refused naming it (400); one without the new figures (an older member) is accepted', async () => {
    const hub = await cluster.activeHub();
    const reg = await api<{ incarnation: number }>(hub, 'POST', '/v1/cluster/register', {
      token: CLUSTER_TOKEN,
      body: { protocol: CLUSTER_PROTOCOL_VERSION, memberId: 'gw-old', role: 'gateway', site: 'main', version: 'old', advertise: '127.0.0.1', ports: { smtp: 1 } },
    });
    expect(reg.status).toBe(200);
    const beat = (counter: number, stats?: Record<string, number>) =>
      api<{ error?: { problems?: { path: string }[] } }>(hub, 'POST', '/v1/cluster/heartbeat', {
        token: CLUSTER_TOKEN,
        body: { memberId: 'gw-old', incarnation: reg.body.incarnation, counter, applied: { placement: 0, settings: 0 }, ...(stats ? { stats } : {}) },
      });
    expect((await beat(1)).status).toBe(200);
    expect((await beat(2, { smtpSessions: 1 })).status).toBe(200);
    const bads: Record<string, number>[] = [{ messagesIn: -1 }, { messagesOut: 1.5 }, { queueDepth: -3 }];
    for (const [i, bad] of bads.entries()) {
      const r = await beat(3 + i, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.error?.problems?.map((p) => p.path)).toContain(`body.stats.${Object.keys(bad)[0]}`);
    }
  });

  it('the standby hub that takes over shows the last hour and the event timeline of the hub it replaced', async () => {
    const before = await cluster.admin<History>('GET', '/v1/metrics/history');
    const gwSamples = before.members['gw-0']!;
    expect(gwSamples.length).toBeGreaterThan(0);
    const oldest = gwSamples[0]!;
    const events = await cluster.admin<{ events: { kind: string; detail: string }[] }>('GET', '/v1/events');
    expect(events.events.some((e) => e.kind === 'hub-active' && e.detail.includes('hub-0'))).toBe(true);

    // SIGTERM: the hub writes its activity as it stops; hub-1 takes the lease and reads it.
    await cluster.hubs.get('hub-0')!.stop();
    await waitFor(async () => (await cluster.activeHub().catch(() => undefined)) === cluster.hubUrls[1], 'hub-1 to take over', 60_000);
    const after = await cluster.admin<History>('GET', '/v1/metrics/history');
    expect(after.members['gw-0']?.find((x) => x.t === oldest.t)).toEqual(oldest);
    expect(after.members['node-a']?.some((x) => x.t <= oldest.t)).toBe(true);
    const timeline = (await cluster.admin<{ events: { kind: string; detail: string }[] }>('GET', '/v1/events')).events;
    // Newest first: hub-1's takeover is the latest hub event, and before it what hub-0 saw.
    expect(timeline.find((e) => e.kind === 'hub-active')?.detail).toContain('hub-1');
    expect(timeline.some((e) => e.kind === 'hub-active' && e.detail.includes('hub-0'))).toBe(true);
    expect(timeline.some((e) => e.kind === 'member-joined' && e.detail.includes('gw-0'))).toBe(true);
  });
});
