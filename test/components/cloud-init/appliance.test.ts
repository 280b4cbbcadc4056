import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { appliancePlan } from '../../../components/appliances';
import {
  APPLIANCE_BOOTSTRAP_PATH,
  APPLIANCE_CONFIG_DIR,
  APPLIANCE_UNITS,
  POLICY_RC_D,
  RSPAMD_LOCAL_DIR,
  renderApplianceUserData,
  type ApplianceUserDataArgs,
  type WriteFile,
} from '../../../components/cloud-init';
import { parseClusterSpec, type ClusterSpecInput } from '../../../components/spec';
import { vmSpecInput } from './fixtures';
import { cloudInitSchemaAll, isValidCloudConfig } from './validate';

/**
 * The appliance VM's user data (Debian's clamav-daemon and rspamd with
 * mailfleet's configuration): cloud-init's own schema, the order Debian's
 * packaging needs, and the generated shell and units checked by sh and
 * systemd themselves.
 */

const planFor = (filters: ClusterSpecInput['filters']) => appliancePlan(parseClusterSpec({ ...vmSpecInput, filters }), 'vm');
const argsFor = (filters: ClusterSpecInput['filters']): ApplianceUserDataArgs => {
  const plan = planFor(filters);
  return { hostname: 'mail-ci-appliance-0', cluster: 'mail-ci', domain: 'example.net', clamd: plan.clamd, rspamd: plan.rspamd, extraPackages: ['qemu-guest-agent'] };
};

const CASES: [string, ClusterSpecInput['filters']][] = [
  ['clamd (freshclam) and rspamd', { antivirus: { kind: 'clamd', deploy: true }, spam: { kind: 'rspamd', deploy: true } }],
  ['air-gapped: clamd from a mirror, rspamd offline', { antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'mirror', mirror: 'https://clamav-mirror.example.net/' } }, spam: { kind: 'rspamd', deploy: true, offline: true } }],
  ['clamd without updates', { antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'none' } } }],
  ['rspamd only', { spam: { kind: 'rspamd', deploy: true } }],
];

interface Doc {
  hostname: string;
  fqdn: string;
  packages: string[];
  write_files: WriteFile[];
  runcmd: string[][];
}
const docOf = (args: ApplianceUserDataArgs) => parse(renderApplianceUserData(args)) as Doc;
const file = (doc: Doc, path: string) => doc.write_files.find((f) => f.path === path);

describe('appliance user data', () => {
  it('every combination passes cloud-init schema validation', async () => {
    const texts = CASES.map(([, f]) => renderApplianceUserData(argsFor(f)));
    const results = await cloudInitSchemaAll(texts);
    results.forEach((r, i) => expect(isValidCloudConfig(r), `${CASES[i]![0]}: ${r.output}`).toBe(true));
    // The validator can fail: a value of the wrong type.
    const broken = texts[0]!.replace('package_update: true', 'package_update: "yes"');
    expect(broken).not.toBe(texts[0]);
    const [bad] = await cloudInitSchemaAll([broken]);
    expect(isValidCloudConfig(bad!)).toBe(false);
  });

  it('matches the snapshot (clamd and rspamd)', () => {
    expect(renderApplianceUserData(argsFor(CASES[0]![1]))).toMatchSnapshot();
  });

  it.each(CASES)('%s: Debian packages of the deployed daemons, the configs byte-exact, run once by runcmd', (_what, filters) => {
    const args = argsFor(filters);
    const doc = docOf(args);
    expect(doc.hostname).toBe('mail-ci-appliance-0');
    expect(doc.fqdn).toBe('mail-ci-appliance-0.example.net');
    expect(doc.packages).toEqual([...(args.clamd ? ['clamav-daemon', 'clamav-freshclam'] : []), ...(args.rspamd ? ['rspamd'] : []), 'qemu-guest-agent']);
    expect(file(doc, `${APPLIANCE_CONFIG_DIR}/clamd.conf`)?.content).toBe(args.clamd?.clamdConf);
    expect(file(doc, `${APPLIANCE_CONFIG_DIR}/freshclam.conf`)?.content).toBe(args.clamd?.freshclamConf);
    expect(file(doc, `/etc/systemd/system/${APPLIANCE_UNITS.freshclam}`) !== undefined).toBe(args.clamd?.freshclamConf !== undefined);
    for (const [name, content] of Object.entries(args.rspamd?.localFiles ?? {})) expect(file(doc, `${RSPAMD_LOCAL_DIR}/${name}`)?.content).toBe(content);
    expect(doc.write_files.filter((f) => f.path.startsWith(RSPAMD_LOCAL_DIR))).toHaveLength(Object.keys(args.rspamd?.localFiles ?? {}).length);
    expect(doc.runcmd).toEqual([[APPLIANCE_BOOTSTRAP_PATH]]);
    // Everything but policy-rc.d waits for the packages (their directories, the clamav user).
    for (const f of doc.write_files) expect(f.defer ?? false, f.path).toBe(f.path !== POLICY_RC_D);
    // No secrets in an appliance's user data.
    expect(JSON.stringify(doc)).not.toMatch(/PRIVATE KEY/);
  });

  it('policy-rc.d keeps Debian from starting clamav and rspamd during the install (run by sh), and only those', () => {
    const script = file(docOf(argsFor(CASES[0]![1])), POLICY_RC_D)!;
    expect(script.permissions).toBe('0755');
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-policy-rc-'));
    try {
      writeFileSync(join(dir, 'policy-rc.d'), script.content);
      const exit = (name: string) => spawnSync('sh', [join(dir, 'policy-rc.d'), name, 'start']).status;
      // invoke-rc.d passes script names, deb-systemd-invoke unit names.
      for (const denied of ['clamav-freshclam', 'clamav-freshclam.service', 'clamav-daemon', 'clamav-daemon.service', 'clamav-daemon.socket', 'rspamd', 'rspamd.service']) {
        expect(exit(denied), denied).toBe(101);
      }
      for (const allowed of ['qemu-guest-agent', 'qemu-guest-agent.service', 'ssh']) expect(exit(allowed), allowed).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the bootstrap lifts policy-rc.d, checks rspamd before starting it, and swaps Debian\'s clamav units for mailfleet\'s (sh -n accepts it)', () => {
    for (const [what, filters] of CASES) {
      const args = argsFor(filters);
      const script = file(docOf(args), APPLIANCE_BOOTSTRAP_PATH)!.content;
      expect(spawnSync('sh', ['-n', '-c', script]).status, what).toBe(0);
      const lines = script.split('\n');
      const at = (l: string) => lines.indexOf(l);
      expect(at(`rm -f '${POLICY_RC_D}'`), what).toBeGreaterThan(0);
      expect(script.startsWith('#!/bin/sh\n'), what).toBe(true);
      expect(lines, what).toContain('set -eu');
      if (args.rspamd) {
        expect(at('rspamadm configtest')).toBeGreaterThan(at(`rm -f '${POLICY_RC_D}'`));
        expect(at('systemctl restart rspamd')).toBeGreaterThan(at('rspamadm configtest'));
      } else {
        expect(script).not.toMatch(/rspamd/);
      }
      if (args.clamd) {
        const mask = at('systemctl mask clamav-daemon.socket clamav-daemon.service clamav-freshclam.service');
        expect(mask, what).toBeGreaterThan(0);
        expect(at(`systemctl enable --now ${APPLIANCE_UNITS.clamd}`)).toBeGreaterThan(mask);
        expect(lines.includes(`systemctl enable --now ${APPLIANCE_UNITS.freshclam}`), what).toBe(args.clamd.freshclamConf !== undefined);
      } else {
        expect(script).not.toMatch(/clam/);
      }
    }
  });

  it('mailfleet\'s clamd and freshclam units pass systemd-analyze verify and run the rendered configs as clamav', () => {
    const doc = docOf(argsFor(CASES[0]![1]));
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-units-'));
    try {
      for (const unit of Object.values(APPLIANCE_UNITS)) {
        const f = file(doc, `/etc/systemd/system/${unit}`)!;
        expect(f.content).toMatch(/^User=clamav$/m);
        expect(f.content).toMatch(new RegExp(`--config-file=${APPLIANCE_CONFIG_DIR}/(clamd|freshclam)\\.conf$`, 'm'));
        writeFileSync(join(dir, unit), f.content);
      }
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...Object.values(APPLIANCE_UNITS).map((u) => join(dir, u))], { encoding: 'utf8' });
      const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(dir));
      expect(complaints).toEqual([]);
      // The check can fail.
      writeFileSync(join(dir, 'bad.service'), '[Service]\nExecStart=/bin/true\nRestartSecs=1\n');
      const bad = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'bad.service')], { encoding: 'utf8' });
      expect(`${bad.stdout}${bad.stderr}`).toMatch(/Unknown key 'RestartSecs'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to render a VM with nothing to run', () => {
    expect(() => renderApplianceUserData({ hostname: 'x-appliance-0', cluster: 'x' })).toThrow(/neither clamd nor rspamd/);
  });
});
