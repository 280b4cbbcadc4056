import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { listStacks, SECRET_PLACEHOLDER } from '../../cli/preview/stack-config';

const root = join(__dirname, '..', '..');
const stacksDir = join(root, 'stacks');

async function preview(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'mailfleet-preview.js'), ...args], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// The HA cluster stacks; the failover pairs' site stacks are test/stacks/failover-stacks.test.ts (plus one subprocess run below).
const stacks = listStacks(stacksDir).filter((s) => !s.startsWith('failover-'));
const PLATFORM_OF: Record<string, string> = { 'ha-kubernetes': 'kubernetes', 'ha-docker': 'docker', 'ha-proxmox': 'proxmox', 'ha-vsphere': 'vsphere' };

describe('shipped stack configs', () => {
  it('one HA stack per platform', () => {
    expect(stacks).toEqual(expect.arrayContaining(Object.keys(PLATFORM_OF)));
  });

  it.each(stacks)('%s: npm run preview --json builds it offline (subprocess)', async (stack) => {
    const r = await preview('--stack', stack, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; resources: Array<{ type: string; name: string; parent?: string }>; outputs: Record<string, unknown> };
    expect(report.ok).toBe(true);
    const cluster = report.resources.find((x) => x.type === 'mailfleet:index:MailCluster');
    expect(cluster).toBeDefined();
    // Every role component sits under the cluster; every platform resource has a parent.
    for (const t of ['Hub', 'MailNode', 'Gateway', 'Proxy', 'SharedStorage', 'LoadBalancer']) {
      expect(report.resources.filter((x) => x.type === `mailfleet:index:${t}`)).toHaveLength(1);
    }
    expect(report.resources.filter((x) => x.type !== 'mailfleet:index:MailCluster' && !x.parent)).toEqual([]);
    const platform = PLATFORM_OF[stack];
    if (platform) expect(report.resources.some((x) => x.type.startsWith(platform === 'kubernetes' ? 'kubernetes:' : platform === 'proxmox' ? 'proxmoxve:' : `${platform}:`))).toBe(true);
    // Secrets are redacted in the report, never printed.
    expect(r.stdout).not.toMatch(/BEGIN (EC |RSA )?PRIVATE KEY/);
    expect(r.stdout).not.toContain(SECRET_PLACEHOLDER);
    expect(report.outputs.adminToken).toBe('[secret]');
  });

  it('a failover standby previews through the bin entry: its StackReference is answered by the primary stack\'s own offline run (subprocess)', async () => {
    const r = await preview('--stack', 'failover-docker-standby', '--json');
    // The shipped files leave the engine's TLS client bundle to `pulumi config set --secret` (it is not a
    // provider credential the preview fills in), so each site says its https engine would refuse the
    // controller without it — and nothing else.
    const warnings = r.stderr.split('\n').filter((l) => l !== '');
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w).toMatch(/^warning: \[runtime\] docker site "(ams1|fra1)": https:\/\/\S+ is TLS but no client certificate bundle is given \(mailfleet:dockerTlsCa\/Cert\/Key\)/);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; outputs: Record<string, any>; policySummary: { passed: boolean } };
    expect(report.policySummary.passed).toBe(true);
    expect(report.outputs.primary).toMatchObject({ site: 'ams1', memberId: 'mail-geo-all-0' });
    expect(report.outputs.failoverCredential).toBe('[secret]');
  });

  it('the tree view is readable: type, name, key inputs, indentation', async () => {
    const r = await preview('--stack', 'ha-kubernetes');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('mailfleet:index:MailCluster  mail-prod');
    expect(r.stdout).toMatch(/├─ mailfleet:index:MailNode {2}mail-prod-node/);
    expect(r.stdout).toMatch(/│ {2}[├└]─ kubernetes:apps\/v1:StatefulSet {2}mail-prod-node-statefulset {2}\(replicas=3 image=/);
  });

  it('an invalid stack config exits 1 naming the config key', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mf-stack-'));
    writeFileSync(join(dir, 'Pulumi.bad.yaml'), 'config:\n  mailfleet:cluster:\n    name: demo\n    platform: { kind: kubernetes }\n    domains: [{ name: example.com }]\n    nodes: { count: two }\n');
    const r = await preview('--stack', 'bad', '--stacks-dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mailfleet:cluster.nodes.count');
    const missing = await preview('--stack', 'nope', '--stacks-dir', dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('stacks there: bad');
  });

  it('stack files hold no credentials and no ciphertext: those come from `pulumi config set --secret` or an ESC environment', () => {
    for (const stack of stacks) {
      const text = readFileSync(join(stacksDir, `Pulumi.${stack}.yaml`), 'utf8');
      const doc = YAML.parse(text) as { config?: Record<string, unknown>; environment?: unknown };
      // A `secure:` value is ciphertext of one stack's own key: a placeholder makes `pulumi preview` fail to decrypt.
      expect(JSON.stringify(doc.config), stack).not.toMatch(/"secure"/);
      for (const key of Object.keys(doc.config ?? {})) expect(key, `${stack}: ${key}`).not.toMatch(/password|apiToken|privateKey|token/i);
      // Each credential the header asks for is documented both ways.
      const secretKeys = [...text.matchAll(/^#\s+pulumi config set --secret (\S+) /gm)].map((m) => m[1]!);
      const credentials = secretKeys.filter((k) => !k.startsWith('mailfleet:'));
      if (credentials.length > 0) {
        expect(text, stack).toMatch(/^# environment:\n# {3}- mailfleet\//m);
        for (const k of credentials) expect(text, `${stack}: ${k} in the ESC example`).toContain(`#       ${k}:`);
      }
      // `environment:` stays a comment: an environment that does not exist would stop `pulumi preview`.
      expect(doc.environment, stack).toBeUndefined();
    }
  });
});
