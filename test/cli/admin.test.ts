import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlacementFacts, nodeChanges, removalRefusal } from '../../components/placement-facts';
import { loginResult, TestCluster } from '../helpers/cluster';
import { ADMIN_TOKEN, api, waitFor } from '../helpers/hub';

/**
 * The operator commands (`mailfleet status|domain|user|placement`) as
 * subprocesses against a hub and one node running as processes on loopback.
 */
const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');

let cluster: TestCluster;
let hubUrl: string;
let tokenFile: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `mailfleet ARGS` with `input` on stdin; no admin token in the environment unless `env` gives one. */
function cli(args: string[], input = '', env: Record<string, string> = {}): Promise<Run> {
  const clean = { ...process.env };
  delete clean.MAILFLEET_ADMIN_TOKEN;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd: root, env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

/** `mailfleet ARGS --hub URL --token-file FILE`. */
function admin(args: string[], input = ''): Promise<Run> {
  return cli([...args, '--hub', hubUrl, '--token-file', tokenFile], input);
}

beforeAll(async () => {
  cluster = await TestCluster.create('mf-admin-cli-');
  tokenFile = join(cluster.dir, 'secrets', 'admin-token');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  await waitFor(async () => !!(await cluster.activeHub().catch(() => undefined)), 'hub active');
  hubUrl = cluster.hubUrls[0]!;
  await cluster.startNode('node-a');
  await cluster.waitPlacement((p) => p.ring.length === 1, 'node-a on the ring');
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('mailfleet operator commands against a running hub', () => {
  it('domain add and list', async () => {
    const add = await admin(['domain', 'add', 'ops.test']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('added domain ops.test');
    const list = await admin(['domain', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^DOMAIN\s+USERS/);
    expect(list.stdout).toMatch(/ops\.test\s+0\s+split/);
    const json = await admin(['domain', 'list', '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { name: string }[]).map((d) => d.name)).toContain('ops.test');
  });

  it('user add takes the password from stdin; the node accepts an IMAP LOGIN with it; user list and passwd', async () => {
    const add = await admin(['user', 'add', 'alice@ops.test'], 'alice-password-1\n');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('added user alice@ops.test');
    expect(add.stdout).not.toContain('alice-password-1');
    const imap = cluster.nodes.get('node-a')!.port('imap');
    await waitFor(async () => /^L OK/.test(await loginResult(imap, { address: 'alice@ops.test', password: 'alice-password-1' })), 'alice logs in', 20_000);
    expect(await loginResult(imap, { address: 'alice@ops.test', password: 'wrong-password' })).toMatch(/^L NO/);

    const list = await admin(['user', 'list', '--domain', 'ops.test', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ address: 'alice@ops.test', enabled: true })]);

    const passwd = await admin(['user', 'passwd', 'alice@ops.test'], 'alice-password-2\n');
    expect(passwd.code).toBe(0);
    await waitFor(async () => /^L OK/.test(await loginResult(imap, { address: 'alice@ops.test', password: 'alice-password-2' })), 'alice logs in with the new password', 20_000);
  });

  it('status shows the hub and the node with its heartbeat, and the users per node', async () => {
    const r = await admin(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^hub hub-0 at http:\/\/127\.0\.0\.1:\d+: active/);
    expect(r.stdout).toMatch(/node-a\s+node\s+live\s+active\s+\d+(\.\d)?s/);
    expect(r.stdout).toMatch(/node-a\s+active\s+1\s+ops\.test/);
  });

  it('placement show ADDRESS names the owner; a bad address is refused with the hub’s message, exit 1', async () => {
    const r = await admin(['placement', 'show', 'alice@ops.test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('alice@ops.test: node node-a');

    const hubSays = await api<{ error: { message: string } }>(hubUrl, 'GET', '/v1/placement/owner/not-an-address');
    expect(hubSays.status).toBe(400);
    const bad = await admin(['placement', 'show', 'not-an-address']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain(hubSays.body.error.message);

    const moved = await admin(['placement', 'move', 'alice@ops.test', 'node-a']);
    expect(moved.stderr).toBe('');
    expect(moved.stdout).toMatch(/^moved alice@ops\.test to node-a \(placement version \d+\)/);
    const unknown = await admin(['placement', 'move', 'alice@ops.test', 'node-zz']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('node node-zz is not known');
  });

  it('without a token, or with no cluster.json, a clear message and exit 2; the token from the environment or cluster.json works; a hub that is down, exit 1', async () => {
    const dir = join(cluster.dir, 'local');
    // Independent runs, side by side (each pays for loading the CLI).
    const [none, env, missing, down] = await Promise.all([
      cli(['status', '--hub', hubUrl]),
      cli(['domain', 'list', '--hub', hubUrl], '', { MAILFLEET_ADMIN_TOKEN: ADMIN_TOKEN }),
      cli(['status', '--dir', dir]),
      cli(['status', '--hub', 'http://127.0.0.1:9', '--token-file', tokenFile]),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--token-file FILE or set MAILFLEET_ADMIN_TOKEN');
    expect(env.code).toBe(0);
    expect(env.stdout).toContain('ops.test');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the hub at http://127.0.0.1:9');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(dir, 'cluster.json'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ dir, hub: { url: hubUrl, adminToken: ADMIN_TOKEN }, members: [] }));
    const fromFile = await cli(['domain', 'list', '--dir', dir]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toContain('ops.test');
  });

  it('placement export writes the facts a stack checks a node removal with: a node that owns mailboxes is refused, a drained one is not', async () => {
    const exported = async () => {
      const r = await admin(['placement', 'export']);
      expect(r.code, r.stderr).toBe(0);
      return PlacementFacts.parse(JSON.parse(r.stdout));
    };
    const before = await exported();
    expect(before.nodes).toEqual([{ id: 'node-a', state: 'active', mailboxes: 1 }]);
    // A stack whose spec no longer deploys node-a, with these facts, is refused naming the drain.
    expect(removalRefusal(nodeChanges(before, []), before)).toMatch(/node-a \(1 mailbox\).*`mailfleet placement drain node-a`/);
    expect((await admin(['placement', 'drain', 'node-a'])).code).toBe(0);
    const after = await exported();
    expect(after.nodes).toEqual([{ id: 'node-a', state: 'drained', mailboxes: 0 }]);
    expect(after.placementVersion).toBeGreaterThan(before.placementVersion);
    expect(removalRefusal(nodeChanges(after, []), after)).toBeUndefined();
    expect((await admin(['placement', 'undrain', 'node-a'])).code).toBe(0);
  });

  it('drain NODE takes it off the ring, undrain puts it back; user remove and domain remove', async () => {
    const r = await admin(['placement', 'drain', 'node-a', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ version: expect.any(Number) });
    const show = await admin(['placement', 'show']);
    expect(show.stdout).toMatch(/node-a\s+drained/);
    expect((await admin(['placement', 'show', 'alice@ops.test'])).stdout).toContain('no node serves it now');
    const back = await admin(['placement', 'undrain', 'node-a']);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain('node-a is back on the ring');

    expect((await admin(['user', 'remove', 'alice@ops.test'])).code).toBe(0);
    const removed = await admin(['domain', 'remove', 'ops.test']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('removed domain ops.test');
  });
});
