import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/hub';
import { endpointPort as port, proxyInboxIds, readClusterJson, type LocalClusterJson as ClusterJson } from '../helpers/local-up';

/**
 * `mailfleet up --local --hubs 2`: an active and a standby hub sharing the
 * storage folder and its lease. The active hub is killed with -9 while the
 * standby is held (SIGSTOP), so the gap without any hub is certain, not a
 * race: mail for the demo users keeps flowing through the gateway and is
 * read through the proxy from the members' cached directory and placement.
 * Let go, the standby takes the lease over; `mailfleet status` (cluster.json
 * still names the dead hub first) answers through it; nothing sent is lost
 * or there twice (Message-IDs counted).
 */
const root = resolve(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');
let dir = '';
let launcher: ChildProcess | undefined;
let out = '';
const portOffset = 21_000 + Math.floor(Math.random() * 200) * 50;

const clusterJson = (): ClusterJson => readClusterJson(dir);

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => res({ code, stdout, stderr }));
  });
}

/** Sends one message per demo user through the gateway (the MX); each must be accepted. */
async function send(c: ClusterJson, tag: string): Promise<void> {
  const mx = createTransport({ host: '127.0.0.1', port: port(c, 'gateway', 'smtp'), secure: false, ignoreTLS: true, pool: false });
  try {
    for (const u of c.demoUsers) {
      const info = await mx.sendMail({ from: 'someone@example.org', to: u.address, subject: tag, messageId: `<${tag}-${u.address.split('@')[0]}@example.org>`, text: tag });
      expect(info.accepted).toEqual([u.address]);
    }
  } finally {
    mx.close();
  }
}

/** Waits (bounded) until every demo user's INBOX holds exactly `tags` (one message each), read through the proxy. */
async function expectInboxes(c: ClusterJson, tags: string[], what: string): Promise<void> {
  for (const u of c.demoUsers) {
    const want = tags.map((t) => `<${t}-${u.address.split('@')[0]}@example.org>`).sort();
    let ids: string[] = [];
    await waitFor(async () => (ids = (await proxyInboxIds(c, u).catch(() => [])).sort()).length >= want.length, `${u.address}: ${what}`, 60_000);
    expect(ids).toEqual(want);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-up-hubs-'));
  launcher = spawn(process.execPath, [bin, 'up', '--local', '--dir', dir, '--hubs', '2', '--nodes', '2', '--no-restart', '--port-offset', String(portOffset)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  launcher.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  launcher.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('local cluster running'), 'the launcher says the cluster runs', 150_000);
}, 160_000);

afterAll(async () => {
  if (launcher && launcher.exitCode === null) {
    // A held standby would not stop on SIGTERM.
    const held = clusterJson().hubs[1]?.pid;
    if (held) process.kill(held, 'SIGCONT');
    launcher.kill('SIGINT');
    await new Promise((r) => launcher!.once('exit', r));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mailfleet up --local --hubs 2', () => {
  it('kill -9 the active hub: mail flows through the gap, the standby takes over, status answers through it, no Message-ID lost', async () => {
    const c = clusterJson();
    expect(c.members.filter((m) => m.role === 'hub').map((m) => m.id)).toEqual(['local-hub-0', 'local-hub-1']);
    expect(c.hubs.map((h) => h.id)).toEqual(['local-hub-0', 'local-hub-1']);
    const [first, second] = c.hubs as [ClusterJson['hubs'][number], ClusterJson['hubs'][number]];
    expect(c.hub.url).toBe(first.url);
    expect(out).toContain(`standby hub ${second.url}`);

    const before = await cli(['status', '--dir', dir]);
    expect(before.stderr).toBe('');
    expect(before.stdout).toMatch(new RegExp(`^hub local-hub-0 at ${first.url}: active, epoch \\d+\\nhub local-hub-1 at ${second.url}: standby`));

    await send(c, 'before');
    await expectInboxes(c, ['before'], 'mail before the hub dies');

    // Hold the standby, kill the active hub: from here until SIGCONT no hub runs.
    process.kill(second.pid!, 'SIGSTOP');
    process.kill(first.pid!, 'SIGKILL');
    await send(c, 'gap-1');
    await send(c, 'gap-2');
    await expectInboxes(c, ['before', 'gap-1', 'gap-2'], 'mail sent while no hub runs');

    process.kill(second.pid!, 'SIGCONT');
    let after = { code: null as number | null, stdout: '', stderr: '' };
    // Once the nodes have registered again with the new active hub, status lists them live there.
    await waitFor(async () => (after = await cli(['status', '--dir', dir])).code === 0 && /local-node-0\s+node\s+live/.test(after.stdout) && /local-node-1\s+node\s+live/.test(after.stdout), 'status answers through the standby', 60_000);
    expect(after.stdout).toMatch(new RegExp(`^hub local-hub-1 at ${second.url}: active, epoch \\d+\\nhub at ${first.url}: unreachable\\n`));

    await send(c, 'after');
    await expectInboxes(c, ['after', 'before', 'gap-1', 'gap-2'], 'mail after the takeover');
  }, 300_000);
});
