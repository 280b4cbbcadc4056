import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventLog, SiteLease } from '../../mail-runtime/failover';
import { fakeKubernetes, fakeProxmox, type FakeApi } from '../helpers/fake-power-api';
import { BIN, kill, messageIds, sendOne, snapshot, startProc, until, writeMemberConfig, type Proc } from '../helpers/pair';
import { ANN, writeMailUsers } from '../helpers/smtp';

/**
 * Issue 13's site-loss scenario with real processes. Where this machine
 * lets us create network namespaces (root, `ip netns add`), the primary and
 * the standby member each run in their own namespace joined to a bridge by
 * a veth pair; this test process is the client and the witness site (the
 * controller and both platforms' APIs), and the cut is the primary's link
 * going down. Elsewhere the same scenario runs on loopback with
 * SIGSTOP/SIGCONT as the cut and the heal. The test prints which it ran.
 *
 * Cut the primary → the controller confirms the outage, takes the lease,
 * cannot reach the primary's platform (its API went down with the site), so
 * the storage lease is the fence, and starts the standby → every message
 * acknowledged before the cut is there, mail sent after is delivered →
 * heal → the old primary saw the higher epoch, stays fenced and writes
 * nothing (the store does not change while only it could write).
 */

const TTL_MS = 2000;
const ID = randomBytes(2).toString('hex');
const SUBNET = `10.213.${parseInt(ID, 16) % 250}`;

interface Sites {
  kind: 'network namespaces' | 'loopback with SIGSTOP/SIGCONT';
  host: { primary: string; standby: string };
  exec: { primary: string[]; standby: string[] };
  cut(primary: Proc): void;
  heal(primary: Proc): void;
  teardown(): void;
}

function sh(...argv: string[]): void {
  execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

function namespaces(): Sites | undefined {
  const br = `mfbr${ID}`;
  const ns = { primary: `mfp${ID}`, standby: `mfs${ID}` };
  const created: string[] = [];
  try {
    sh('ip', 'link', 'add', br, 'type', 'bridge');
    sh('ip', 'addr', 'add', `${SUBNET}.1/24`, 'dev', br);
    sh('ip', 'link', 'set', br, 'up');
    (['primary', 'standby'] as const).forEach((site, i) => {
      const n = ns[site];
      sh('ip', 'netns', 'add', n);
      created.push(n);
      sh('ip', 'link', 'add', `${n}a`, 'type', 'veth', 'peer', 'name', `${n}b`);
      sh('ip', 'link', 'set', `${n}a`, 'netns', n);
      sh('ip', 'link', 'set', `${n}b`, 'master', br);
      sh('ip', 'link', 'set', `${n}b`, 'up');
      sh('ip', 'netns', 'exec', n, 'ip', 'addr', 'add', `${SUBNET}.${i + 2}/24`, 'dev', `${n}a`);
      sh('ip', 'netns', 'exec', n, 'ip', 'link', 'set', `${n}a`, 'up');
      sh('ip', 'netns', 'exec', n, 'ip', 'link', 'set', 'lo', 'up');
    });
  } catch (e) {
    for (const n of created) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    try {
      execFileSync('ip', ['link', 'del', br], { stdio: 'ignore' });
    } catch {
      /* never made */
    }
    console.log(`network namespaces unavailable (${(e as Error).message.split('\n')[0]}): running on loopback with SIGSTOP/SIGCONT`);
    return undefined;
  }
  return {
    kind: 'network namespaces',
    host: { primary: `${SUBNET}.2`, standby: `${SUBNET}.3` },
    exec: { primary: ['ip', 'netns', 'exec', ns.primary], standby: ['ip', 'netns', 'exec', ns.standby] },
    cut: () => sh('ip', 'link', 'set', `${ns.primary}b`, 'down'),
    heal: () => sh('ip', 'link', 'set', `${ns.primary}b`, 'up'),
    teardown: () => {
      for (const n of Object.values(ns)) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      execFileSync('ip', ['link', 'del', br], { stdio: 'ignore' });
    },
  };
}

const loopback: Sites = {
  kind: 'loopback with SIGSTOP/SIGCONT',
  host: { primary: '127.0.0.1', standby: '127.0.0.1' },
  exec: { primary: [], standby: [] },
  cut: (p) => p.child.kill('SIGSTOP'),
  heal: (p) => p.child.kill('SIGCONT'),
  teardown: () => undefined,
};

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('failover pair: the primary site is cut off', { timeout: 600_000 }, () => {
  let sites: Sites;
  const procs: Proc[] = [];
  let primaryApi: FakeApi;
  let standbyApi: FakeApi;

  beforeAll(() => {
    sites = namespaces() ?? loopback;
    console.log(`scenario: ${sites.kind}`);
  });
  afterEach(async () => {
    procs.splice(0).forEach(kill);
    await primaryApi?.close();
    await standbyApi?.close();
  });
  afterAll(() => sites.teardown());

  it('cut → fenced and promoted, acknowledged mail all there, new mail delivered; heal → the old primary stays fenced and writes nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mf-pair-scenario-'));
    const storage = path.join(dir, 'storage');
    const users = path.join(dir, 'users.yaml');
    await writeMailUsers(users, [ANN]);
    writeFileSync(path.join(dir, 'k8s-token'), 'k8s-tok\n');
    writeFileSync(path.join(dir, 'pve-secret'), 'pve-sec\n');
    primaryApi = await fakeKubernetes('k8s-tok');
    standbyApi = await fakeProxmox('pve-sec');
    const member = (site: 'primary' | 'standby', memberId: string): Proc => {
      const cfg = writeMemberConfig(dir, { storage, memberId, users, leaseTtlMs: TTL_MS, host: sites.host[site], site });
      const argv = [...sites.exec[site], process.execPath, BIN, 'run', '--role', 'all', '--config', cfg];
      const p = startProc(argv[0]!, argv.slice(1));
      procs.push(p);
      return p;
    };
    const primary = member('primary', 'pair-all-0');
    const rp = (await primary.waitLine((l) => l.ready === true)) as { smtpPort: number; imapPort: number; healthPort: number };
    primaryApi.setRunning(true);
    let standby: Proc | undefined;
    standbyApi.onPower = (on) => {
      if (on) standby = member('standby', 'pair-all-1');
    };
    const hp = sites.host.primary;
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `before-${i}@pair.test`;
      expect(await sendOne(hp, rp.smtpPort, ANN.address, id)).toMatch(/^250 /);
      acked.push(id);
    }

    const ctlFile = path.join(dir, 'controller.json');
    writeFileSync(
      ctlFile,
      JSON.stringify({
        role: 'failover-controller',
        memberId: 'pair-controller',
        cluster: 'pair',
        site: 'witness',
        management: { host: '127.0.0.1', port: 0 },
        storage: { path: storage },
        mode: 'automatic',
        probes: { smtp: `${hp}:${rp.smtpPort}`, imap: `${hp}:${rp.imapPort}`, health: `http://${hp}:${rp.healthPort}/readyz` },
        // Slower than production defaults only where a loaded 2-core test machine needs it.
        probeIntervalMs: 500,
        probeTimeoutMs: 1500,
        failureThreshold: 4,
        failureWindowMs: 10_000,
        leaseTtlMs: TTL_MS,
        primary: {
          memberId: 'pair-all-0',
          power: { kind: 'kubernetes', apiServer: primaryApi.base, namespace: 'mail', workload: { kind: 'StatefulSet', name: 'pair-all-1' }, tokenFile: path.join(dir, 'k8s-token'), requestTimeoutMs: 1000, confirmTimeoutMs: 3000 },
        },
        standby: {
          memberId: 'pair-all-1',
          power: { kind: 'proxmox', endpoint: standbyApi.base, node: 'pve2', vmid: 201, tokenId: 'failover@pve!controller', tokenSecretFile: path.join(dir, 'pve-secret'), confirmTimeoutMs: 5000 },
        },
      }),
    );
    const ctl = startProc(process.execPath, [BIN, 'run', '--role', 'failover-controller', '--config', ctlFile]);
    procs.push(ctl);
    await ctl.waitLine((l) => l.ready === true);
    const why = () => `controller:\n${ctl.out()}\nprimary:\n${primary.out()}\nstandby:\n${standby?.out() ?? '(not started)'}`;

    // The cut: the primary's site and its platform API go away together.
    primaryApi.mode = 'hang';
    sites.cut(primary);
    const ev = await until('a failover event', async () => (await new EventLog(storage).read()).find((e) => e.kind === 'failover'), why);
    expect(ev).toMatchObject({ ok: true, active: 'standby', epoch: 1 });
    expect(ev.steps.filter((s) => s.step === 'fence').map((s) => s.ok)).toEqual([false, true]);
    const rs = (await until('the standby ready', () => standby?.lines.find((l) => l.ready === true), why)) as { smtpPort: number; imapPort: number; epoch: number };
    expect(rs.epoch).toBe(1);
    const hs = sites.host.standby;
    for (let i = 0; i < 3; i++) {
      const id = `after-${i}@pair.test`;
      expect(await sendOne(hs, rs.smtpPort, ANN.address, id)).toMatch(/^250 /);
      acked.push(id);
    }
    const ids = await until('every acknowledged message at the standby', async () => {
      const m = await messageIds(hs, rs.imapPort, ANN);
      return acked.every((id) => m.has(id)) ? m : undefined;
    });
    expect([...ids.values()].every((n) => n === 1)).toBe(true);
    expect(ids.size).toBe(acked.length);

    // Heal: the old primary is reachable again, and fenced.
    sites.heal(primary);
    const fenced = await primary.waitLine((l) => l.fenced === true);
    expect(fenced.epoch).toBe(0);
    expect(await refused(hp, rp.smtpPort)).toBe(true);
    expect(await refused(hp, rp.imapPort)).toBe(true);
    // With the standby frozen, only the old primary could write: the store stays as it is.
    standby!.child.kill('SIGSTOP');
    const before = snapshot(storage, (rel) => rel.startsWith('failover'));
    // Three of the old primary's renewal intervals, and less than the standby's TTL (it must not lapse while frozen).
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, TTL_MS / 4));
    expect(snapshot(storage, (rel) => rel.startsWith('failover'))).toEqual(before);
    standby!.child.kill('SIGCONT');
    expect((await new SiteLease(storage, TTL_MS).read())!.holder).toBe('pair-all-1');
    console.log(`scenario ran: ${sites.kind}; ${acked.length} acknowledged messages all at the standby once`);
  });
});
