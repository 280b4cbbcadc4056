import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SiteLease } from '../../mail-runtime/failover';
import { BIN, ROOT, kill, messageIds, sendOne, snapshot, startMember, until, writeMemberConfig, type Proc } from '../helpers/pair';
import { ANN, writeMailUsers, type MailUser } from '../helpers/smtp';

/**
 * `mailfleet run --role all` as a real process on loopback: it serves
 * SMTP and IMAP on one store while it holds the site lease, and a higher
 * epoch written by a controller fences it: listeners closed, /readyz 503,
 * and nothing written to the store after. Its hub part serves the admin
 * API: a user added there with `mailfleet user add` on the primary logs in
 * on the standby after the takeover (the directory is on the shared storage).
 */

const TTL_MS = 2000;
const ADMIN_TOKEN = 'pair-admin-token-0123456789';
/** Added through the admin API, not in the users file. */
const DOT: MailUser = { address: 'dot@example.com', password: 'dot-password-1' };

/** The operator CLI against a member's admin API; `input` is its stdin (the password). */
function cli(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('all-roles pair member (real process, loopback)', { timeout: 120_000 }, () => {
  let dir: string;
  let storage: string;
  let users: string;
  let tokenFile: string;
  const procs: Proc[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mf-pair-member-'));
    storage = path.join(dir, 'storage');
    users = path.join(dir, 'users.yaml');
    await writeMailUsers(users, [ANN]);
    tokenFile = path.join(dir, 'admin-token');
    writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`);
  });
  afterEach(() => procs.splice(0).forEach(kill));

  const member = (memberId: string): Proc => {
    const p = startMember(writeMemberConfig(dir, { storage, memberId, users, leaseTtlMs: TTL_MS, adminTokenFile: tokenFile }));
    procs.push(p);
    return p;
  };

  it('serves SMTP, IMAP and the admin API while holding the site lease; a higher epoch fences it and nothing is written after; the standby serves the same users', async () => {
    const a = member('pair-all-0');
    const ready = (await a.waitLine((l) => l.ready === true)) as { smtpPort: number; imapPort: number; healthPort: number; httpPort: number; epoch: number };
    expect(ready.epoch).toBe(0);
    // The operator adds a user on the active member's hub part, as on a cluster's hub.
    const add = await cli(['user', 'add', DOT.address, '--hub', `http://127.0.0.1:${ready.httpPort}`, '--token-file', tokenFile], `${DOT.password}\n`);
    expect(add.code, add.stderr).toBe(0);
    // The gateway part knows the new user at once (550 before the hub part existed), and the node part logs them in.
    expect(await sendOne('127.0.0.1', ready.smtpPort, DOT.address, 'dot-1@pair.test')).toMatch(/^250 /);
    await until('delivered to the new user', async () => ((await messageIds('127.0.0.1', ready.imapPort, DOT)).has('dot-1@pair.test') ? true : undefined));
    const lease = new SiteLease(storage, TTL_MS);
    expect(await lease.read()).toMatchObject({ holder: 'pair-all-0', epoch: 0 });
    for (let i = 0; i < 3; i++) expect(await sendOne('127.0.0.1', ready.smtpPort, ANN.address, `m${i}@pair.test`)).toMatch(/^250 /);
    const ids = await until('3 messages delivered', async () => {
      const m = await messageIds('127.0.0.1', ready.imapPort, ANN);
      return m.size === 3 ? m : undefined;
    });
    expect([...ids.entries()].sort()).toEqual([
      ['m0@pair.test', 1],
      ['m1@pair.test', 1],
      ['m2@pair.test', 1],
    ]);
    expect((await fetch(`http://127.0.0.1:${ready.healthPort}/readyz`)).status).toBe(200);

    // The controller's move: the lease for the standby, one epoch up.
    const taken = await lease.take('pair-all-1');
    const fenced = await a.waitLine((l) => l.fenced === true);
    expect(fenced).toMatchObject({ memberId: 'pair-all-0', epoch: 0 });
    expect(String(fenced.reason)).toMatch(/higher epoch \(1\)/);
    const after = snapshot(storage, (rel) => rel.startsWith('failover'));
    expect(await refused(ready.smtpPort)).toBe(true);
    expect(await refused(ready.imapPort)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${ready.healthPort}/readyz`)).status).toBe(503);
    // A few renewal intervals later, the fenced member has still written nothing (and not touched the lease).
    for (let i = 0; i < 8; i++) await new Promise((r) => setTimeout(r, TTL_MS / 4));
    expect(snapshot(storage, (rel) => rel.startsWith('failover'))).toEqual(after);
    expect(await lease.read()).toEqual(taken);
    expect(a.child.exitCode).toBe(null);

    // The standby continues the lease named for it, with the mail the primary acknowledged.
    const b = member('pair-all-1');
    const rb = (await b.waitLine((l) => l.ready === true)) as { smtpPort: number; imapPort: number; httpPort: number; epoch: number };
    expect(rb.epoch).toBe(1);
    expect([...(await messageIds('127.0.0.1', rb.imapPort, ANN)).keys()].sort()).toEqual(['m0@pair.test', 'm1@pair.test', 'm2@pair.test']);
    // The user added on the primary's hub part: listed by the standby's, and logs in there with their mail.
    const list = await fetch(`http://127.0.0.1:${rb.httpPort}/v1/users?domain=example.com`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { users: { address: string }[] }).users.map((u) => u.address).sort()).toEqual([ANN.address, DOT.address]);
    expect([...(await messageIds('127.0.0.1', rb.imapPort, DOT)).keys()]).toEqual(['dot-1@pair.test']);
  });

  it('a paused member that wakes after a takeover acknowledges nothing: it fences itself and the store keeps only the new holder', async () => {
    const a = member('pair-all-0');
    const ra = (await a.waitLine((l) => l.ready === true)) as { smtpPort: number; imapPort: number };
    expect(await sendOne('127.0.0.1', ra.smtpPort, ANN.address, 'before@pair.test')).toMatch(/^250 /);
    await until('delivered', async () => ((await messageIds('127.0.0.1', ra.imapPort, ANN)).size === 1 ? true : undefined));
    a.child.kill('SIGSTOP');
    await new SiteLease(storage, TTL_MS).take('pair-all-1');
    const b = member('pair-all-1');
    const rb = (await b.waitLine((l) => l.ready === true)) as { smtpPort: number; imapPort: number };
    expect(await sendOne('127.0.0.1', rb.smtpPort, ANN.address, 'after@pair.test')).toMatch(/^250 /);
    // A client that reached the frozen primary's MX before it froze would send now; it must not be acknowledged.
    const late = sendOne('127.0.0.1', ra.smtpPort, ANN.address, 'zombie@pair.test').then(
      (r) => r,
      (e: Error) => `refused: ${e.message}`,
    );
    a.child.kill('SIGCONT');
    await a.waitLine((l) => l.fenced === true);
    expect(await late).not.toMatch(/^250 /);
    const ids = await until('both messages at the standby', async () => {
      const m = await messageIds('127.0.0.1', rb.imapPort, ANN);
      return m.size >= 2 ? m : undefined;
    });
    expect([...ids.entries()].sort()).toEqual([
      ['after@pair.test', 1],
      ['before@pair.test', 1],
    ]);
  });

  it('placement show lists the member as the one node with its mailbox count; export writes it for the stack; moves and drains are refused', async () => {
    const a = member('pair-all-0');
    const ready = (await a.waitLine((l) => l.ready === true)) as { httpPort: number; epoch: number };
    const hub = ['--hub', `http://127.0.0.1:${ready.httpPort}`, '--token-file', tokenFile];
    expect((await cli(['user', 'add', DOT.address, ...hub], `${DOT.password}\n`)).code).toBe(0);
    // Issue 13: a pair's hub part had an empty ring, so this listed no node although the member serves every mailbox.
    const show = await cli(['placement', 'show', ...hub], '');
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^pair-all-0\s+active\s+2\s+/m);
    const status = await cli(['placement', 'show', ANN.address, ...hub], '');
    expect(status.stdout).toMatch(new RegExp(`^${ANN.address}: node pair-all-0, epoch ${ready.epoch} `, 'm'));
    const exported = await cli(['placement', 'export', ...hub], '');
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ format: 'mailfleet-placement/1', nodes: [{ id: 'pair-all-0', state: 'active', mailboxes: 2 }], unplaced: 0 });
    // No other node to move mailboxes to: a clear refusal, not a ring with no node on it.
    const drain = await cli(['placement', 'drain', 'pair-all-0', ...hub], '');
    expect(drain.code).not.toBe(0);
    expect(drain.stderr).toMatch(/serves every mailbox itself.*mailfleet failover promote/);
    expect((await cli(['placement', 'show', ...hub], '')).stdout).toMatch(/^pair-all-0\s+active\s+2\s+/m);
  });

  it('refuses to start while the other site holds a fresh lease, naming the holder', async () => {
    const a = member('pair-all-0');
    await a.waitLine((l) => l.ready === true);
    const b = member('pair-all-1');
    expect(await b.exited).toBe(1);
    expect(b.out()).toMatch(/site lease is held by pair-all-0 \(epoch 0/);
    expect(b.out()).toMatch(/mailfleet failover promote/);
  });
});
