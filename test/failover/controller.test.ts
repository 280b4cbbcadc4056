import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog, SiteLease, type FailoverEvent } from '../../mail-runtime/failover';
import { fakeKubernetes, fakeProxmox, type FakeApi } from '../helpers/fake-power-api';
import { kill, ROOT, startProc, until as untilWithin, type Proc } from '../helpers/pair';

/**
 * The failover controller as a real process (`mailfleet run --role
 * failover-controller`) against real stand-in members on loopback
 * (test/failover/stand-in-member.ts greets and holds the lease as the
 * all-roles member does, and starts in a fraction of its time; the real
 * member runs in pair-member, operator and pair-scenario tests) and local platform APIs: the
 * primary on "Kubernetes", the standby on "Proxmox VE". A fence through the
 * platform kills the primary's process; a start spawns the standby's.
 * Scenario: loopback with SIGSTOP/SIGCONT (no network namespaces here).
 */

// Run by node itself (tsx as a require hook), so SIGSTOP freezes the process that serves, not a launcher.
const STAND_IN = path.join(__dirname, 'stand-in-member.ts');
const TTL_MS = 1000;
/** Bound on how long any wait in these tests may take (a bound, not a measurement). */
const BOUND_MS = 40_000;

/** Starts a process whose JSON lines the tests wait for, within this file's bound. */
function start(cmd: string, args: string[]): Proc {
  return startProc(cmd, args, {}, BOUND_MS);
}

let diagnostics: (() => string) | undefined;

function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  return untilWithin(what, f, () => diagnostics?.(), BOUND_MS);
}

async function metric(port: number, name: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('failover controller (real processes on loopback, SIGSTOP/SIGCONT)', { timeout: 120_000 }, () => {
  let dir: string;
  let storage: string;
  let primaryApi: FakeApi;
  let standbyApi: FakeApi;
  let primary: Proc | undefined;
  let standby: Proc | undefined;
  let ctl: Proc | undefined;
  let hookFile: string;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mf-failover-'));
    storage = path.join(dir, 'storage');
    hookFile = path.join(dir, 'switched');
    writeFileSync(path.join(dir, 'k8s-token'), 'k8s-tok\n');
    writeFileSync(path.join(dir, 'pve-secret'), 'pve-sec\n');
    primaryApi = await fakeKubernetes('k8s-tok');
    standbyApi = await fakeProxmox('pve-sec');
    primary = start(process.execPath, ['--require', 'tsx/cjs', STAND_IN, storage, 'pair-all-0', String(TTL_MS)]);
    await primary.waitLine((l) => l.ready === true);
    primaryApi.setRunning(true);
    standbyApi.setRunning(false);
    primaryApi.onPower = (on) => {
      if (!on) kill(primary);
    };
    standbyApi.onPower = (on) => {
      if (on) {
        void new SiteLease(storage, TTL_MS).read().then((l) => {
          standby = start(process.execPath, ['--require', 'tsx/cjs', STAND_IN, storage, 'pair-all-1', String(TTL_MS), String(l!.epoch)]);
        });
      }
    };
  });

  afterEach(async () => {
    kill(ctl);
    kill(primary);
    kill(standby);
    await primaryApi.close();
    await standbyApi.close();
  });

  async function startController(over: Record<string, unknown> = {}): Promise<number> {
    const p = primary!.lines[0] as { smtp: number; imap: number; health: number };
    const cfg = {
      role: 'failover-controller',
      memberId: 'pair-controller',
      cluster: 'pair',
      site: 'standby-site',
      management: { host: '127.0.0.1', port: 0 },
      storage: { path: storage },
      mode: 'automatic',
      probes: { smtp: `127.0.0.1:${p.smtp}`, imap: `127.0.0.1:${p.imap}`, health: `http://127.0.0.1:${p.health}/readyz` },
      // Slower than production defaults only where a loaded 2-core test machine needs it.
      probeIntervalMs: 300,
      probeTimeoutMs: 1000,
      failureThreshold: 4,
      failureWindowMs: 6000,
      leaseTtlMs: TTL_MS,
      primary: {
        memberId: 'pair-all-0',
        power: { kind: 'kubernetes', apiServer: primaryApi.base, namespace: 'mail', workload: { kind: 'StatefulSet', name: 'pair-all-1' }, tokenFile: path.join(dir, 'k8s-token'), requestTimeoutMs: 1000, confirmTimeoutMs: 5000 },
      },
      standby: {
        memberId: 'pair-all-1',
        power: { kind: 'proxmox', endpoint: standbyApi.base, node: 'pve2', vmid: 201, tokenId: 'failover@pve!controller', tokenSecretFile: path.join(dir, 'pve-secret'), confirmTimeoutMs: 5000 },
      },
      trafficSwitch: { kind: 'command', argv: [process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], process.env.MAILFLEET_FAILOVER_ACTIVE + " " + process.env.MAILFLEET_FAILOVER_EPOCH)', hookFile] },
      ...over,
    };
    const file = path.join(dir, 'controller.json');
    writeFileSync(file, JSON.stringify(cfg));
    ctl = start(process.execPath, [path.join(ROOT, 'bin/mailfleet.js'), 'run', '--role', 'failover-controller', '--config', file]);
    const ready = await ctl.waitLine((l) => l.ready === true);
    diagnostics = () => `controller:\n${ctl!.out()}\nprimary:\n${primary!.out()}`;
    const port = ready.healthPort as number;
    // Watching a healthy primary first: rounds pass without failures.
    await until('three probe rounds', async () => (await metric(port, 'mailfleet_failover_probe_rounds_total')) >= 3);
    return port;
  }

  const events = () => new EventLog(storage).read();

  it('a frozen primary is fenced and the standby promoted: lease epoch up, primary stopped, standby running, traffic switched, event recorded', async () => {
    await startController();
    const before = (await new SiteLease(storage, TTL_MS).read())!;
    const t0 = Date.now();
    primary!.child.kill('SIGSTOP');
    const ev = await until('a failover event', async () => (await events()).find((e) => e.kind === 'failover'));
    const ms = Date.now() - t0;
    console.log(`SIGSTOP → failover recorded in ${ms} ms (interval 300 ms, probe timeout 1000 ms, threshold 4 in 6000 ms)`);
    expect(ev).toMatchObject({ ok: true, active: 'standby', epoch: before.epoch + 1 });
    expect(ev.steps.map((s) => `${s.step}:${s.ok}`)).toEqual(['lease:true', 'fence:true', 'start:true', 'traffic-switch:true']);
    expect(primaryApi.isRunning()).toBe(false);
    expect(standbyApi.isRunning()).toBe(true);
    expect(readFileSync(hookFile, 'utf8')).toBe(`standby ${before.epoch + 1}`);
    const sb = await standby!.waitLine((l) => l.ready === true);
    expect(sb.epoch).toBe(before.epoch + 1);
    expect((await new SiteLease(storage, TTL_MS).read())!.holder).toBe('pair-all-1');
  });

  it('when the primary platform does not answer, the storage lease is the fence: the old primary wakes up, sees the higher epoch and stops serving', async () => {
    primaryApi.onPower = undefined; // the fence never reaches the primary
    primaryApi.mode = 'hang';
    await startController();
    primary!.child.kill('SIGSTOP');
    const ev = await until('a failover event', async () => (await events()).find((e) => e.kind === 'failover'));
    expect(ev.ok).toBe(true);
    expect(ev.steps.filter((s) => s.step === 'fence').map((s) => s.ok)).toEqual([false, true]);
    expect(ev.steps.find((s) => s.step === 'fence' && !s.ok)!.detail).toMatch(/TIMEOUT|no answer/);
    primary!.child.kill('SIGCONT');
    const fenced = await primary!.waitLine((l) => l.fenced === true);
    expect(fenced.epoch).toBeLessThan(ev.epoch!);
    const lease = (await new SiteLease(storage, TTL_MS).read())!;
    expect(lease).toMatchObject({ holder: 'pair-all-1', epoch: ev.epoch });
  });

  it('a flapping primary (outages shorter than the threshold) causes no failover', async () => {
    const port = await startController();
    for (let i = 0; i < 4; i++) {
      const failed = await metric(port, 'mailfleet_failover_probe_failed_rounds_total');
      primary!.child.kill('SIGSTOP');
      await until('one failed round', async () => (await metric(port, 'mailfleet_failover_probe_failed_rounds_total')) >= failed + 1);
      primary!.child.kill('SIGCONT');
      const rounds = await metric(port, 'mailfleet_failover_probe_rounds_total');
      // Outages of one or two rounds, six good rounds apart: at most 3 failures in any 6 s window.
      await until('eight more rounds', async () => (await metric(port, 'mailfleet_failover_probe_rounds_total')) >= rounds + 8);
    }
    expect(await metric(port, 'mailfleet_failover_probe_failed_rounds_total')).toBeGreaterThanOrEqual(4);
    expect(await events()).toEqual([]);
    expect(primaryApi.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(standbyApi.isRunning()).toBe(false);
    expect(await metric(port, 'mailfleet_failover_state\\{[^}]*state="watching"[^}]*\\}')).toBe(1);
  });

  it('manual mode only alerts: nothing is fenced or started', async () => {
    const port = await startController({ mode: 'manual' });
    primary!.child.kill('SIGSTOP');
    const ev: FailoverEvent = await until('an alert', async () => (await events()).find((e) => e.kind === 'alert'));
    expect(ev.reason).toMatch(/failed probe rounds/);
    expect(await metric(port, 'mailfleet_failover_state\\{[^}]*state="alerted"[^}]*\\}')).toBe(1);
    expect(primaryApi.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(standbyApi.requests).toEqual([]);
    expect((await new SiteLease(storage, TTL_MS).read())!.holder).toBe('pair-all-0');
  });
});
