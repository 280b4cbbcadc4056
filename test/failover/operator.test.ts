import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SiteLease, type PairStatus } from '../../mail-runtime/failover';
import { fakeKubernetes, fakeProxmox, type FakeApi } from '../helpers/fake-power-api';
import { BIN, BOUND_MS, ROOT, kill, messageIds, sendOne, startMember, writeMemberConfig, type Proc } from '../helpers/pair';
import { ANN, writeMailUsers } from '../helpers/smtp';

/**
 * `mailfleet failover status|promote|failback` against real pair members
 * (`mailfleet run --role all`) on loopback, their platforms being local
 * APIs (primary "Kubernetes", standby "Proxmox VE") whose power requests
 * start and kill the member processes. A steady load sends and reads
 * through whichever member serves; at the end every acknowledged
 * Message-ID is in the mailbox exactly once (a message whose attempt got no
 * reply: at most once more per such attempt, the sender's own retry).
 */

const TTL_MS = 2000;
/** Messages of the steady load: promotion after a third, failback after two thirds. */
const LOAD = 24;

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, MAILFLEET_LOG_LEVEL: 'silent' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('mailfleet failover (real members on loopback)', { timeout: 600_000 }, () => {
  let dir: string;
  let storage: string;
  let users: string;
  let primaryApi: FakeApi;
  let standbyApi: FakeApi;
  const procs: Proc[] = [];
  /** The member serving now (undefined while none is ready). */
  let active: { smtpPort: number; imapPort: number } | undefined;

  const member = (memberId: string): Proc => {
    active = undefined;
    const p = startMember(writeMemberConfig(dir, { storage, memberId, users, leaseTtlMs: TTL_MS }));
    procs.push(p);
    void p.waitLine((l) => l.ready === true).then(
      (l) => (active = l as unknown as { smtpPort: number; imapPort: number }),
      () => undefined,
    );
    return p;
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mf-failover-cli-'));
    storage = path.join(dir, 'storage');
    users = path.join(dir, 'users.yaml');
    await writeMailUsers(users, [ANN]);
    writeFileSync(path.join(dir, 'k8s-token'), 'k8s-tok\n');
    writeFileSync(path.join(dir, 'pve-secret'), 'pve-sec\n');
    primaryApi = await fakeKubernetes('k8s-tok');
    standbyApi = await fakeProxmox('pve-sec');
  });
  afterEach(async () => {
    procs.splice(0).forEach(kill);
    await primaryApi.close();
    await standbyApi.close();
  });

  function controllerConfig(): string {
    const file = path.join(dir, 'controller.json');
    writeFileSync(
      file,
      JSON.stringify({
        role: 'failover-controller',
        memberId: 'pair-controller',
        cluster: 'pair',
        site: 'standby-site',
        management: { host: '127.0.0.1', port: 0 },
        storage: { path: storage },
        mode: 'manual',
        probes: { health: 'http://127.0.0.1:1/readyz' },
        leaseTtlMs: TTL_MS,
        primary: {
          memberId: 'pair-all-0',
          // The recorded Kubernetes fixture names the StatefulSet pair-all-1 (test/fixtures/power/kubernetes.json).
        power: { kind: 'kubernetes', apiServer: primaryApi.base, namespace: 'mail', workload: { kind: 'StatefulSet', name: 'pair-all-1' }, tokenFile: path.join(dir, 'k8s-token'), requestTimeoutMs: 5000, confirmTimeoutMs: 10_000 },
        },
        standby: {
          memberId: 'pair-all-1',
          power: { kind: 'proxmox', endpoint: standbyApi.base, node: 'pve2', vmid: 201, tokenId: 'failover@pve!controller', tokenSecretFile: path.join(dir, 'pve-secret'), confirmTimeoutMs: 10_000 },
        },
        trafficSwitch: { kind: 'command', argv: [process.execPath, '-e', 'require("fs").appendFileSync(process.argv[1], process.env.MAILFLEET_FAILOVER_ACTIVE + " " + process.env.MAILFLEET_FAILOVER_EPOCH + "\\n")', path.join(dir, 'switched')] },
      }),
    );
    return file;
  }

  it('promote and failback under a steady send/read load: every acknowledged message exactly once; never lost, never twice', async () => {
    let primary: Proc | undefined = member('pair-all-0');
    let standby: Proc | undefined;
    await primary.waitLine((l) => l.ready === true);
    primaryApi.setRunning(true);
    standbyApi.setRunning(false);
    // The platforms' power requests start and stop the real processes.
    primaryApi.onPower = (on) => {
      if (on) primary = member('pair-all-0');
      else kill(primary);
    };
    standbyApi.onPower = (on) => {
      if (on) standby = member('pair-all-1');
      else kill(standby);
    };
    const config = controllerConfig();

    // Refusals change nothing and say why.
    const early = await cli(['failover', 'failback', '--config', config]);
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/pair-all-1 is not the active side \(lease: pair-all-0, epoch 0\)/);
    const unforced = await cli(['failover', 'promote', '--config', config]);
    expect(unforced.code).toBe(1);
    expect(unforced.err).toMatch(/pair-all-0 holds a fresh lease \(epoch 0.*--force/);
    expect(await new SiteLease(storage, TTL_MS).read()).toMatchObject({ holder: 'pair-all-0', epoch: 0 });
    const usage = await cli(['failover', 'status']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--config/);

    const acked: string[] = [];
    // Messages an attempt of which failed, with what it got (printed). The forced promotion fences the primary and
    // powers it off (SIGKILL), and the failback stops the standby the same way. A message the killed member had
    // delivered into the mailbox but not yet marked done in its queue is delivered again by the member that takes
    // the queue over (CI, Node 24 leg, 2026-12-02: load-13 twice with a single, acknowledged attempt); that repeat
    // carries the same queue id and the store writes it once (mail-runtime/store/deliveries.ts). What no receiver
    // can tell apart is the sender's own retry of an attempt cut after the gateway had made the message durable and
    // before its 250 arrived (RFC 5321 §4.1.1.4 / RFC 1047): a new message with a new queue id. So: a message whose
    // attempts all got a reply is there exactly once; one with attempts that got no reply at most once more per such
    // attempt. Never lost.
    const failedAttempts = new Map<string, string[]>();
    const reads: number[] = [];
    let moves: Promise<void> = Promise.resolve();
    const deadline = Date.now() + BOUND_MS * 5;
    for (let i = 0; i < LOAD; i++) {
      const id = `load-${i}@pair.test`;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`message ${i} never acknowledged`);
        const a = active;
        const r = a
          ? await sendOne('127.0.0.1', a.smtpPort, ANN.address, id).catch((e: Error & { responseCode?: number }) => {
              failedAttempts.set(id, [...(failedAttempts.get(id) ?? []), e.responseCode === undefined ? `no reply (${e.message})` : `reply ${e.message}`]);
              return e.message;
            })
          : 'no member serving';
        if (r.startsWith('250 ')) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      acked.push(id);
      const a = active;
      if (a && i % 4 === 3) reads.push(await messageIds('127.0.0.1', a.imapPort, ANN).then((m) => m.size, () => -1));
      if (i === Math.floor(LOAD / 3)) {
        // Promotion while the load goes on.
        moves = cli(['failover', 'promote', '--force', '--config', config]).then((r) => {
          expect(r.err).toBe('');
          expect(r.code).toBe(0);
          expect(r.out).toMatch(/promote done: standby active at epoch 1/);
        });
      }
      if (i === Math.floor((2 * LOAD) / 3)) {
        await moves;
        const status = await cli(['failover', 'status', '--json', '--config', config]);
        expect(status.code).toBe(0);
        const s = JSON.parse(status.out) as PairStatus;
        expect(s).toMatchObject({ active: 'standby', lease: { holder: 'pair-all-1', epoch: 1 }, power: { primary: { state: 'stopped' }, standby: { state: 'running' } } });
        expect(s.events.map((e) => `${e.kind}:${e.ok}`)).toEqual(['promote:true']);
        // The primary must be stopped for a failback.
        primaryApi.setRunning(true);
        const refused = await cli(['failover', 'failback', '--config', config]);
        expect(refused.code).toBe(1);
        expect(refused.err).toMatch(/is running, not stopped/);
        primaryApi.setRunning(false);
        moves = cli(['failover', 'failback', '--config', config]).then((r) => {
          expect(r.err).toBe('');
          expect(r.code).toBe(0);
          expect(r.out).toMatch(/failback done: primary active at epoch 2/);
        });
      }
    }
    await moves;
    const final = primary!;
    const ready = (await final.waitLine((l) => l.ready === true && l.epoch === 2)) as { imapPort: number };
    // Acknowledged means durable in a gateway queue (RFC 5321 §6.1), not yet in the mailbox: a queue the switch
    // handed over may still be delivering when the primary reports ready (CI saw the last message, acknowledged
    // just before failback, missing from a read made at that instant). So wait, bounded, for every acknowledged
    // message; one that never arrives is lost.
    let ids = await messageIds('127.0.0.1', ready.imapPort, ANN);
    const waitStart = Date.now();
    while (acked.some((id) => !ids.has(id)) && Date.now() - waitStart < 60_000) {
      await new Promise((res) => setTimeout(res, 500));
      ids = await messageIds('127.0.0.1', ready.imapPort, ANN);
    }
    const lost = acked.filter((id) => !ids.has(id));
    const duplicated = [...ids.entries()].filter(([, n]) => n > 1);
    console.log(
      `steady load: ${acked.length} acknowledged, ${ids.size} in INBOX (after waiting ${Date.now() - waitStart} ms for the queue), reads during the load saw ${reads.join(', ')} messages; ` +
        `failed attempts: ${[...failedAttempts].map(([id, why]) => `${id}: ${why.join(' / ')}`).join('; ') || 'none'}; twice: ${duplicated.map(([id]) => id).join(', ') || 'none'}`,
    );
    expect(lost).toEqual([]);
    const unanswered = (id: string): number => (failedAttempts.get(id) ?? []).filter((why) => why.startsWith('no reply')).length;
    expect(duplicated.filter(([id]) => unanswered(id) === 0)).toEqual([]);
    expect(duplicated.filter(([id, n]) => n > 1 + unanswered(id))).toEqual([]);
    expect(ids.size).toBe(LOAD);
    expect(readFileSync(path.join(dir, 'switched'), 'utf8')).toBe('standby 1\nprimary 2\n');
    expect(standbyApi.isRunning()).toBe(false);
    expect(standby!.child.exitCode !== null || standby!.child.signalCode !== null).toBe(true);
  }, 150_000);
});
