import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/hub';

/**
 * `mailfleet up --local` (what `npm start` runs) as a user runs it: a real
 * launcher process with its hub and nodes, reached with imapflow; a member
 * killed with -9 comes back; SIGINT stops everything; a second start on the
 * same folder keeps the mail and the users.
 */
const root = resolve(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');
let dir = '';
let launcher: ChildProcess | undefined;
// Away from the default ports (a real `npm start` may be running) and from other test runs.
const portOffset = 20_000 + Math.floor(Math.random() * 200) * 50;

interface ClusterJson {
  hub: { url: string; adminToken: string };
  demoUsers: { address: string; password: string; servedBy: string | null }[];
  members: { id: string; role: string; pid: number | null; endpoints: Record<string, string> }[];
}

function up(): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, 'up', '--local', '--dir', dir, '--nodes', '2', '--port-offset', String(portOffset)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  launcher = child;
  return { child, out: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

function clusterJson(): ClusterJson {
  return JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as ClusterJson;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function imap(port: number, u: { address: string; password: string }): Promise<ImapFlow> {
  const flow = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: u.address, pass: u.password }, logger: false, tls: { rejectUnauthorized: false } });
  await flow.connect();
  return flow;
}

function imapPort(c: ClusterJson, member: string): number {
  return Number(c.members.find((m) => m.id === member)!.endpoints.imap!.split(':')[1]);
}

afterAll(async () => {
  if (launcher && launcher.exitCode === null) {
    launcher.kill('SIGINT');
    await new Promise((r) => launcher!.once('exit', r));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mailfleet up --local', () => {
  it('runs hub + 2 nodes that an IMAP client uses, restarts a killed member, stops on SIGINT, keeps mail across restarts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-up-'));
    const first = up();
    await waitFor(() => first.out().includes('local cluster running'), 'the launcher says the cluster runs', 150_000);
    const c = clusterJson();
    expect(c.members.map((m) => m.role).sort()).toEqual(['hub', 'node', 'node']);
    for (const m of c.members) expect(alive(m.pid!)).toBe(true);
    expect(c.demoUsers).toHaveLength(2);
    const alice = c.demoUsers[0]!;
    expect(first.out()).toContain(alice.password);

    // A real client at the node that serves alice: append, read back.
    const flow = await imap(imapPort(c, alice.servedBy!), alice);
    await flow.append('INBOX', 'From: a@example.test\r\nTo: alice@example.test\r\nSubject: kept\r\nMessage-ID: <kept@example.test>\r\n\r\nhello\r\n');
    const box = await flow.mailboxOpen('INBOX');
    expect(box.exists).toBe(1);
    await flow.logout();

    // kill -9 a node: the launcher starts it again (a new pid in cluster.json).
    const victim = c.members.find((m) => m.role === 'node')!;
    process.kill(victim.pid!, 'SIGKILL');
    await waitFor(() => {
      const pid = clusterJson().members.find((m) => m.id === victim.id)!.pid;
      return pid !== null && pid !== victim.pid && alive(pid);
    }, `${victim.id} restarted`, 60_000);

    // SIGINT stops every member and the launcher exits 0.
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    for (const m of clusterJson().members) if (m.pid) expect(alive(m.pid)).toBe(false);

    // Again on the same folder: same users and passwords, the mail is there.
    const second = up();
    await waitFor(() => second.out().includes('local cluster running'), 'the second start runs', 150_000);
    const c2 = clusterJson();
    expect(c2.demoUsers.map(({ address, password }) => ({ address, password }))).toEqual(c.demoUsers.map(({ address, password }) => ({ address, password })));
    const a2 = c2.demoUsers[0]!;
    const flow2 = await imap(imapPort(c2, a2.servedBy!), a2);
    const box2 = await flow2.mailboxOpen('INBOX');
    expect(box2.exists).toBe(1);
    await flow2.logout();
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dir, 'storage'))).toBe(true);
  }, 400_000);
});
