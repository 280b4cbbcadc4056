import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Pop3Command from 'node-pop3';
import { createTransport } from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/hub';
import { endpointPort as port, proxyInboxIds as inboxIds, readClusterJson, type DemoUser } from '../helpers/local-up';

/**
 * `mailfleet up --local` (what `npm start` runs) as a user runs it: a real
 * launcher process with its hub, nodes, gateway and proxy; mail sent with
 * nodemailer to the gateway's MX port is read with imapflow through the
 * proxy, for users on both nodes; a member killed with -9 comes back;
 * SIGINT stops every process; a second start on the same folder keeps the
 * mail and the users.
 */
const root = resolve(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');
let dir = '';
let launcher: ChildProcess | undefined;
// Away from the default ports (a real `npm start` may be running) and from other test runs.
const portOffset = 20_000 + Math.floor(Math.random() * 200) * 50;

function up(): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, 'up', '--local', '--dir', dir, '--nodes', '2', '--port-offset', String(portOffset)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  launcher = child;
  return { child, out: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

const clusterJson = () => readClusterJson(dir);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  if (launcher && launcher.exitCode === null) {
    launcher.kill('SIGINT');
    await new Promise((r) => launcher!.once('exit', r));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mailfleet up --local', () => {
  it('runs hub + 2 nodes + gateway + proxy: mail sent to the MX is read through the proxy; restarts a killed member, stops every process on SIGINT, keeps mail across restarts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-up-'));
    const first = up();
    await waitFor(() => first.out().includes('local cluster running'), 'the launcher says the cluster runs', 150_000);
    const c = clusterJson();
    expect(c.members.map((m) => m.role).sort()).toEqual(['gateway', 'hub', 'node', 'node', 'proxy']);
    for (const m of c.members) expect(alive(m.pid!)).toBe(true);
    expect(c.demoUsers).toHaveLength(2);
    const alice = c.demoUsers[0]!;
    expect(first.out()).toContain(alice.password);
    // What a person reads: the proxy and the gateway ports, and a way to try it.
    expect(first.out()).toContain(`IMAP 127.0.0.1:${port(c, 'proxy', 'imap')}`);
    expect(first.out()).toContain(`smtp://127.0.0.1:${port(c, 'gateway', 'smtp')}`);
    // The demo users live on both nodes (the ring of local-node-0 and local-node-1 is the same on every start).
    expect(new Set(c.demoUsers.map((u) => u.servedBy)).size).toBe(2);

    // The MX (gateway) takes mail for each demo user; the proxy finds each one's node.
    const mx = createTransport({ host: '127.0.0.1', port: port(c, 'gateway', 'smtp'), secure: false, ignoreTLS: true, pool: false });
    for (const u of c.demoUsers) {
      const info = await mx.sendMail({ from: 'someone@example.org', to: u.address, subject: 'kept', messageId: `<kept-${u.address.split('@')[0]}@example.org>`, text: 'hello' });
      expect(info.accepted).toEqual([u.address]);
    }
    mx.close();
    for (const u of c.demoUsers) {
      const want = `<kept-${u.address.split('@')[0]}@example.org>`;
      let ids: string[] = [];
      await waitFor(async () => (ids = await inboxIds(c, u).catch(() => [])).length > 0, `${u.address}: the message delivered`, 60_000);
      expect(ids).toEqual([want]);
    }
    // POP3 through the proxy, and submission through the proxy (alice writes to bob, on the other node).
    const [a, b] = c.demoUsers as [DemoUser, DemoUser];
    const pop = new Pop3Command({ host: '127.0.0.1', port: port(c, 'proxy', 'pop3'), user: b.address, password: b.password, timeout: 30_000 });
    expect(await pop.STAT()).toMatch(/^1 /);
    await pop.QUIT();
    const submit = createTransport({ host: '127.0.0.1', port: port(c, 'proxy', 'submission'), secure: false, requireTLS: true, auth: { user: a.address, pass: a.password }, tls: { rejectUnauthorized: false } });
    await submit.sendMail({ from: a.address, to: b.address, subject: 'submitted', messageId: '<submitted@example.test>', text: 'hi bob' });
    submit.close();
    await waitFor(async () => (await inboxIds(c, b).catch((): string[] => [])).includes('<submitted@example.test>'), `${b.address}: the submitted message`, 60_000);

    // kill -9 a node: the launcher starts it again (a new pid in cluster.json).
    const victim = c.members.find((m) => m.role === 'node')!;
    process.kill(victim.pid!, 'SIGKILL');
    await waitFor(() => {
      const pid = clusterJson().members.find((m) => m.id === victim.id)!.pid;
      return pid !== null && pid !== victim.pid && alive(pid);
    }, `${victim.id} restarted`, 60_000);

    // SIGINT stops every member (gateway and proxy too) and the launcher exits 0.
    const pids = clusterJson().members.map((m) => m.pid!);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(pids.filter((pid) => alive(pid))).toEqual([]);

    // Again on the same folder: same users and passwords, the mail is there.
    const second = up();
    await waitFor(() => second.out().includes('local cluster running'), 'the second start runs', 150_000);
    const c2 = clusterJson();
    expect(c2.demoUsers.map(({ address, password }) => ({ address, password }))).toEqual(c.demoUsers.map(({ address, password }) => ({ address, password })));
    for (const u of c2.demoUsers) expect(await inboxIds(c2, u)).toContain(`<kept-${u.address.split('@')[0]}@example.org>`);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dir, 'storage'))).toBe(true);
  }, 400_000);
});
