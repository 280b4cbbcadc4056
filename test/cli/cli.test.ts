import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');

/** Runs the real CLI as a subprocess, the way a user does. */
async function mailfleet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// Each test starts several CLI processes (tsx compiles on start): on a busy
// shared machine that alone can take tens of seconds, so the budget is per test.
// The tests only read (specs in examples/) and each process is one core's
// work (about 2.9 s of CPU for `validate`), so they run concurrently
// (maxConcurrency in vitest.config.mts): the core the single shared worker
// leaves idle runs the next one. On a saturated machine two at a time also
// halve each test's share of the CPU, hence the wider bound (seen: 147 s at
// load 20 for the four processes of one test).
describe.concurrent('mailfleet CLI (subprocess)', { timeout: 300_000 }, () => {
  it('validate: exit 0 and a one-line summary', async () => {
    const r = await mailfleet('validate', 'examples/specs/kubernetes-ha.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('cluster "mail-prod" (production) on kubernetes: 2 hubs, 3 nodes, 2 gateways, 2 proxies, pvc-rwx storage, 2 domains');
  });

  it('validate: a failover pair', async () => {
    const r = await mailfleet('validate', 'examples/specs/proxmox-failover.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('failover pair "mail-geo"');
  });

  it('validate: exit 1 with every field error', async () => {
    const r = await mailfleet('validate', 'examples/specs/invalid/bad-values.yaml');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    for (const path of ['name:', 'environment:', 'domains[0].name:', 'nodes.count:', 'filters.antivirus.address:']) expect(r.stderr).toContain(path);
  });

  it('validate: a missing file and a YAML syntax error are clear', async () => {
    const missing = await mailfleet('validate', 'examples/specs/does-not-exist.yaml');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does-not-exist\.yaml.*\n.*ENOENT/);
    const usage = await mailfleet('validate');
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("missing required argument 'spec'");
  });

  it('render: prints every member config as YAML', async () => {
    const r = await mailfleet('render', 'examples/specs/local.yaml');
    expect(r.code).toBe(0);
    const doc = YAML.parse(r.stdout) as Record<string, { role: string }>;
    expect(Object.keys(doc)).toEqual(['demo-hub-0', 'demo-node-0', 'demo-node-1', 'demo-gateway-0', 'demo-proxy-0']);
    expect(doc['demo-node-1']!.role).toBe('node');
  });

  it('render (docker): nodes and gateways carry their cluster-CA certificate, proxies only the CA; the gateways take PROXY v2 from HAProxy', async () => {
    const r = await mailfleet('render', 'examples/specs/docker-ha.yaml', '--format', 'json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, { clusterTls?: { caFile: string; certFile?: string; keyFile?: string }; proxyProtocolFrom?: string[] }>;
    const tls = { caFile: '/etc/mailfleet/cluster-tls/ca.crt', certFile: '/etc/mailfleet/cluster-tls/tls.crt', keyFile: '/etc/mailfleet/cluster-tls/tls.key' };
    expect(doc['mail-stage-node-0']!.clusterTls).toEqual(tls);
    expect(doc['mail-stage-gateway-0']!.clusterTls).toEqual(tls);
    expect(doc['mail-stage-proxy-0']!.clusterTls).toEqual({ caFile: tls.caFile });
    expect(doc['mail-stage-gateway-0']!.proxyProtocolFrom).toEqual(['0.0.0.0/0', '::/0']);
  });

  it('render: one member as JSON; bad format is a usage error', async () => {
    const r = await mailfleet('render', 'examples/specs/local.yaml', '--format', 'json', '--member', 'demo-gateway-0');
    expect(r.code).toBe(0);
    // One member prints as a config file of its own (ready for `mailfleet run --config`).
    const one = JSON.parse(r.stdout) as { role: string; memberId: string };
    expect([one.role, one.memberId]).toEqual(['gateway', 'demo-gateway-0']);
    expect((await mailfleet('render', 'examples/specs/local.yaml', '--format', 'xml')).code).toBe(2);
    const nobody = await mailfleet('render', 'examples/specs/local.yaml', '--member', 'nobody');
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('members: demo-hub-0, demo-node-0');
    const usersOnGateway = await mailfleet('render', 'examples/specs/local.yaml', '--member', 'demo-gateway-0', '--users', 'u.yaml');
    expect(usersOnGateway.code).toBe(2);
    expect(usersOnGateway.stderr).toContain('--users applies to a node');
  });

  it('--version, help, unknown command', async () => {
    const v = await mailfleet('--version');
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await mailfleet('help');
    expect(h.code).toBe(0);
    for (const c of ['validate', 'render', 'up']) expect(h.stdout).toContain(c);
    const u = await mailfleet('frobnicate');
    expect(u.code).toBe(1);
    expect(u.stderr).toContain("unknown command 'frobnicate'");
  });

  it('up: only --local, and bad launcher options are refused by name (the launch itself: up.test.ts)', async () => {
    const r = await mailfleet('up');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--local');
    const n = await mailfleet('up', '--local', '--nodes', '0');
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('--nodes');
  });
});
