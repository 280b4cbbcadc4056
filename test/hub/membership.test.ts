import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterMember, HubClient } from '../../mail-runtime/cluster';
import { createLogger } from '../../mail-runtime/common/log';
import type { RunningHub } from '../../mail-runtime/hub';
import { CLUSTER_PROTOCOL_VERSION, RegisterResponse, StorageFence, StorageHeartbeat, storageHeartbeatFiles, type HeartbeatRequest } from '../../mail-runtime/hub/protocol';
import { api, CLUSTER_TOKEN, startTestHub, waitFor } from '../helpers/hub';

/**
 * Membership ordering on a real hub (in this process, real HTTP, real files):
 *
 * - a member numbers its HTTP heartbeat and the storage heartbeat of the same
 *   tick alike (hub/protocol HeartbeatRequest), so the storage write that goes
 *   with an answered heartbeat is not taken for a later sign of life (which
 *   kept a silent member alive 1.5 heartbeats too long: issue 12's SIGSTOP
 *   figure);
 * - the hub's per-member deadline timers still keep a member alive that only
 *   reaches the storage, and a silent member is fenced (its fence file names a
 *   newer incarnation) by the time it is declared dead, never before dead-after
 *   has passed since its last sign of life.
 */
let dir: string;
let hub: RunningHub;
const storage = () => join(dir, 'storage');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-membership-'));
  hub = await startTestHub(dir);
}, 60_000);

afterAll(async () => {
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

async function storageCounter(id: string): Promise<number | undefined> {
  try {
    const hb = StorageHeartbeat.parse(JSON.parse(await readFile(join(storage(), storageHeartbeatFiles(id).heartbeat), 'utf8')));
    return hb.counter;
  } catch {
    return undefined;
  }
}

describe('membership: heartbeats and deaths in order', () => {
  it('a member writes the counter of its HTTP heartbeat into its storage heartbeat (one number per tick)', async () => {
    const registry = hub.hub.active().members;
    const received: number[] = [];
    let member: ClusterMember | undefined;
    // Records what the hub receives; the registry still does its own work.
    const heartbeat = registry.heartbeat.bind(registry);
    registry.heartbeat = (req: HeartbeatRequest) => {
      if (req.memberId === 'tick-1') {
        received.push(req.counter);
        // Stop right after the third heartbeat arrived: no later tick can overwrite the storage file.
        if (received.length === 3) void member?.stop();
      }
      return heartbeat(req);
    };
    try {
      const log = createLogger({}, 'silent');
      member = new ClusterMember({
        memberId: 'tick-1',
        role: 'gateway',
        site: 'main',
        version: 'test',
        advertise: '127.0.0.1',
        storageRoot: storage(),
        client: new HubClient({ urls: [hub.url], token: CLUSTER_TOKEN, log }),
        log,
        hooks: {},
      });
      await member.start({});
      await waitFor(() => received.length >= 3, 'three heartbeats at the hub', 30_000);
      const last = received[2]!;
      // The storage write of that tick started before its HTTP request left; it may finish a moment later.
      await waitFor(async () => ((await storageCounter('tick-1')) ?? -1) >= last, `storage heartbeat ${last} written`, 10_000);
      expect(received).toEqual([...received].sort((a, b) => a - b));
      expect(await storageCounter('tick-1')).toBe(last);
    } finally {
      registry.heartbeat = heartbeat;
      await member?.stop();
    }
  }, 60_000);

  it('storage heartbeats alone keep a member alive; silent, it is fenced and declared dead no sooner than dead-after after its last one', async () => {
    const reg = await api(hub.url, 'POST', '/v1/cluster/register', {
      token: CLUSTER_TOKEN,
      body: { protocol: CLUSTER_PROTOCOL_VERSION, memberId: 'quiet-1', role: 'gateway', site: 'main', version: 'test', advertise: '127.0.0.1', ports: {} },
    });
    expect(reg.status).toBe(200);
    const r = RegisterResponse.parse(reg.body);
    const deadAfterMs = r.timing.deadAfterMs;
    const file = join(storage(), r.storageHeartbeat);
    await mkdir(dirname(file), { recursive: true });
    const registry = hub.hub.active().members;
    const alive = () => registry.isLive('quiet-1');

    // No HTTP heartbeat at all: 12 storage heartbeats, 500 ms apart (over two dead-after intervals), each a higher counter.
    let lastWrite = 0;
    for (let counter = 1; counter <= 12; counter++) {
      await writeFile(`${file}.tmp`, JSON.stringify({ incarnation: r.incarnation, counter }));
      // Taken before the rename makes the write visible: the hub cannot have seen it earlier.
      lastWrite = performance.now();
      await rename(`${file}.tmp`, file);
      expect(alive()).toBe(true);
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(alive()).toBe(true);

    // Silence: declared dead in the end, with the fence (a newer incarnation) on the storage by then.
    await waitFor(() => !alive(), 'quiet-1 declared dead', 60_000);
    const deadSeen = performance.now();
    expect(deadSeen - lastWrite).toBeGreaterThanOrEqual(deadAfterMs);
    const fence = StorageFence.parse(JSON.parse(await readFile(join(storage(), storageHeartbeatFiles('quiet-1').fence), 'utf8')));
    expect(fence.incarnation).toBeGreaterThan(r.incarnation);
    expect(registry.get('quiet-1')?.incarnation).toBe(fence.incarnation);
  }, 90_000);
});
