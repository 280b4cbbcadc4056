import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

/**
 * The offline preview gate as a pipeline runs it: `node bin/mailfleet-preview.js
 * --stack NAME [--json] [--policy-config FILE] [--stacks-dir DIR]`, in a
 * subprocess. Exit 0 when no mandatory policy is violated, 1 when one is (or
 * the program fails), 2 for a usage error.
 */

const root = join(__dirname, '..', '..', '..');
const bin = join(root, 'bin', 'mailfleet-preview.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function preview(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON report pipelines read (cli/preview/main.ts PreviewReport). */
const Report = z.strictObject({
  format: z.literal('mailfleet-preview/1'),
  project: z.literal('mailfleet'),
  stack: z.string().min(1),
  configFile: z.string().min(1),
  ok: z.boolean(),
  error: z.string().optional(),
  resources: z.array(
    z.strictObject({
      urn: z.string().startsWith('urn:pulumi:'),
      type: z.string().min(1),
      name: z.string().min(1),
      parent: z.string().optional(),
      custom: z.boolean(),
      inputs: z.unknown(),
    }),
  ),
  counts: z.record(z.string(), z.number().int().positive()),
  outputs: z.unknown(),
  policies: z.array(
    z.strictObject({
      policyName: z.string().regex(/^[a-z0-9-]+$/),
      enforcementLevel: z.enum(['mandatory', 'advisory']),
      urn: z.string().startsWith('urn:pulumi:'),
      message: z.string().min(20),
    }),
  ),
  policySummary: z.strictObject({
    pack: z.literal('mailfleet'),
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    ran: z.boolean(),
    configFile: z.string().optional(),
    evaluated: z.array(z.string()),
    disabled: z.array(z.string()),
    mandatory: z.number().int().min(0),
    advisory: z.number().int().min(0),
    passed: z.boolean(),
  }),
});

/** A production Kubernetes cluster with one node and a public admin API: two mandatory violations. */
const unsafeCluster = {
  name: 'mail-bad',
  environment: 'production',
  platform: { kind: 'kubernetes' },
  domains: [{ name: 'example.com', quota: { maxUsers: 10 } }],
  hubs: { count: 2 },
  nodes: { count: 1 },
  gateways: { count: 2 },
  proxies: { count: 2 },
  storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 100, backup: { schedule: '0 2 * * *' } },
  admin: { public: true },
  // Scanned (the operator's own clamd), so the advisory inbound-antivirus stays quiet and the two findings are the point.
  filters: { antivirus: { kind: 'clamd', address: 'clamav.mail-filters.svc:3310' } },
};

let dir: string;
const runs: Record<string, Run> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailfleet-gate-'));
  const stack = (name: string, cluster: unknown) =>
    writeFileSync(join(dir, `Pulumi.${name}.yaml`), YAML.stringify({ config: { 'mailfleet:topology': 'ha-cluster', 'mailfleet:cluster': JSON.parse(JSON.stringify(cluster)) } }));
  stack('unsafe', unsafeCluster);
  writeFileSync(join(dir, 'relaxed.json'), JSON.stringify({ 'ha-minimums': 'advisory', 'admin-api-private': { enforcementLevel: 'advisory' } }));
  writeFileSync(join(dir, 'typo.json'), JSON.stringify({ 'ha-minimum': 'advisory' }));
  // Independent subprocesses: run them side by side.
  const jobs: Record<string, string[]> = {
    json: ['--stack', 'ha-kubernetes', '--json'],
    unsafeText: ['--stack', 'unsafe', '--stacks-dir', dir],
    unsafeJson: ['--stack', 'unsafe', '--stacks-dir', dir, '--json'],
    relaxed: ['--stack', 'unsafe', '--stacks-dir', dir, '--json', '--policy-config', join(dir, 'relaxed.json')],
    typo: ['--stack', 'unsafe', '--stacks-dir', dir, '--policy-config', join(dir, 'typo.json')],
    usage: ['--json'],
  };
  const results = await Promise.all(Object.entries(jobs).map(async ([k, args]) => [k, await preview(args)] as const));
  for (const [k, r] of results) runs[k] = r;
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run preview: the offline policy gate', () => {
  it('prints a readable resource tree, then every policy result below it', () => {
    const r = runs.unsafeText!;
    expect(r.stdout).toContain('Previewing stack "unsafe" offline');
    // The tree: the cluster at the root, children indented with box-drawing branches and key inputs.
    expect(r.stdout).toMatch(/^mailfleet:index:MailCluster {2}mail-bad$/m);
    expect(r.stdout).toMatch(/^├─ mailfleet:index:Hub {2}mail-bad-hub$/m);
    expect(r.stdout).toMatch(/^│ {2}[├└]─ kubernetes:apps\/v1:StatefulSet {2}mail-bad-hub-statefulset {2}\(replicas=2/m);
    const tree = r.stdout.indexOf('mailfleet:index:MailCluster');
    const policies = r.stdout.indexOf('Policy pack mailfleet@');
    expect(tree).toBeGreaterThan(0);
    expect(policies).toBeGreaterThan(tree);
    expect(r.stdout).toContain('14 policies evaluated');
  });

  it('--json on a shipped stack: the report matches its schema, no mandatory violation, exit 0', () => {
    const r = runs.json!;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = Report.parse(JSON.parse(r.stdout));
    expect(report.ok).toBe(true);
    expect(report.policySummary).toMatchObject({ ran: true, mandatory: 0, passed: true });
    expect(report.policySummary.evaluated).toHaveLength(14);
    expect(report.counts['mailfleet:index:MailCluster']).toBe(1);
    // Secrets are redacted in the report.
    expect(r.stdout).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  });

  it('a stack violating mandatory policies exits 1 and names each violation, policy, level and resource', () => {
    const r = runs.unsafeText!;
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[mandatory] ha-minimums');
    expect(r.stdout).toContain('[mandatory] admin-api-private');
    expect(r.stdout).toContain('resource: urn:pulumi:unsafe::mailfleet::mailfleet:index:MailCluster::mail-bad');
    expect(r.stdout).toContain('set nodes.count to at least 2');
    expect(r.stdout).toMatch(/mandatory violation\(s\).*FAILS/);
  });

  it('--json on the violating stack: exit 1, every finding in policies[]', () => {
    const r = runs.unsafeJson!;
    expect(r.code).toBe(1);
    const report = Report.parse(JSON.parse(r.stdout));
    expect(report.ok).toBe(true);
    expect(report.policySummary.passed).toBe(false);
    expect(report.policySummary.mandatory).toBe(report.policies.filter((p) => p.enforcementLevel === 'mandatory').length);
    expect([...new Set(report.policies.map((p) => p.policyName))].sort()).toEqual(['admin-api-private', 'ha-minimums']);
    expect(report.policies.find((p) => p.policyName === 'ha-minimums')!.urn).toBe('urn:pulumi:unsafe::mailfleet::mailfleet:index:MailCluster::mail-bad');
  });

  it('--policy-config downgrades policies per stack: the same stack passes with advisories', () => {
    const r = runs.relaxed!;
    expect(r.code).toBe(0);
    const report = Report.parse(JSON.parse(r.stdout));
    expect(report.policySummary).toMatchObject({ passed: true, mandatory: 0, configFile: join(dir, 'relaxed.json') });
    expect(report.policies.map((p) => p.enforcementLevel)).toEqual(report.policies.map(() => 'advisory'));
    expect(report.policies.length).toBeGreaterThanOrEqual(2);
    // Advisory findings alone never fail the gate.
    expect(report.policySummary.advisory).toBe(report.policies.length);
  });

  it('a policy config naming an unknown policy is an error (exit 1), before anything runs', () => {
    const r = runs.typo!;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ha-minimum: no such policy');
    expect(r.stdout).toBe('');
  });

  it('a missing --stack is a usage error (exit 2)', () => {
    expect(runs.usage!.code).toBe(2);
    expect(runs.usage!.stderr).toContain('--stack');
  });
});
