/**
 * `npm test`'s first step: the Debian validators are checked with the real
 * dpkg, and a package that is not there (a made-up name, so nothing on this
 * shared machine is removed) either stops the run with the install command or,
 * as root, is installed with apt-get (a recording runner stands in for apt-get
 * here; .ci/run exercises the real one on a fresh machine).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEBIAN_VALIDATORS,
  ensureDebianValidators,
  installCommand,
  isInstalled,
  type DebianValidator,
  type RunCommand,
} from './debian-packages';

const root = path.resolve(__dirname, '..', '..');
const ABSENT: DebianValidator = {
  package: 'mailfleet-test-no-such-package',
  command: 'mailfleet-test-no-such-command',
  usedFor: 'nothing: a name no distribution ships',
};

function recorder(results: Record<string, number> = {}): { run: RunCommand; calls: Array<{ line: string; frontend: string | undefined }> } {
  const calls: Array<{ line: string; frontend: string | undefined }> = [];
  const run: RunCommand = (command, args, env) => {
    const line = [command, ...args].join(' ');
    calls.push({ line, frontend: env.DEBIAN_FRONTEND });
    const key = Object.keys(results).find((k) => line.includes(k));
    return { status: key === undefined ? 0 : results[key], output: key === undefined ? '' : `E: ${key} went wrong` };
  };
  return { run, calls };
}

const refuseToRun: RunCommand = (command, args) => {
  throw new Error(`must not run ${command} ${args.join(' ')}`);
};

function capture(): { out: string[]; err: string[]; sinks: { out: (l: string) => void; err: (t: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, sinks: { out: (l) => out.push(l), err: (t) => err.push(t) } };
}

describe('Debian validators needed by the suite', () => {
  it('one list: haproxy, keepalived, cloud-init, postfix, dovecot-core, clamav-daemon, rspamd, spamd, dovecot-imapd, chromium, prometheus', () => {
    expect(DEBIAN_VALIDATORS.map((v) => v.package)).toEqual(['haproxy', 'keepalived', 'cloud-init', 'postfix', 'dovecot-core', 'clamav-daemon', 'rspamd', 'spamd', 'dovecot-imapd', 'chromium', 'prometheus']);
  });

  it('dpkg tells installed from absent', () => {
    expect(isInstalled(ABSENT)).toBe(false);
    expect(isInstalled({ package: 'coreutils', command: 'ls', usedFor: '' })).toBe(true);
  });

  it('everything in the list is installed here, so nothing is run and nothing printed', () => {
    const c = capture();
    expect(ensureDebianValidators({ run: refuseToRun, ...c.sinks })).toBe(0);
    expect([...c.out, ...c.err]).toEqual([]);
  });

  it('not root: stops with one message naming the package, why it is needed and the exact install command', () => {
    const c = capture();
    const code = ensureDebianValidators({ list: [DEBIAN_VALIDATORS[0], ABSENT], host: { isRoot: false, hasAptGet: true }, run: refuseToRun, ...c.sinks });
    expect(code).toBe(1);
    expect(c.out).toEqual([]);
    const text = c.err.join('');
    expect(text).toContain('missing Debian packages the tests use as real validators: mailfleet-test-no-such-package.');
    expect(text).toContain('a name no distribution ships');
    expect(text).toContain(
      '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mailfleet-test-no-such-package\n',
    );
    expect(text).toContain('only when run as root');
    // haproxy is installed here: only what is missing is named.
    expect(text).not.toContain('haproxy');
  });

  it('root without apt-get: stops and says so', () => {
    const c = capture();
    expect(ensureDebianValidators({ list: [ABSENT], host: { isRoot: true, hasAptGet: false }, run: refuseToRun, ...c.sinks })).toBe(1);
    expect(c.err.join('')).toContain('this machine has no apt-get');
  });

  it('root with apt-get: one line, apt-get update then install (non-interactive, no recommends), haproxy stopped, then checked again', () => {
    const c = capture();
    const { run, calls } = recorder();
    const haproxy = DEBIAN_VALIDATORS[0];
    let checks = 0;
    const missing = (list: readonly DebianValidator[]): DebianValidator[] => (checks++ === 0 ? [...list] : []);
    const code = ensureDebianValidators({ list: [haproxy, ABSENT], host: { isRoot: true, hasAptGet: true }, run, missing, ...c.sinks });
    expect(code).toBe(0);
    expect(c.out).toEqual([
      'npm test: installing the Debian packages the tests use as validators (running as root): haproxy mailfleet-test-no-such-package',
    ]);
    expect(c.err).toEqual([]);
    expect(calls).toEqual([
      { line: 'apt-get -qq -o DPkg::Lock::Timeout=300 update', frontend: 'noninteractive' },
      {
        line: 'apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends haproxy mailfleet-test-no-such-package',
        frontend: 'noninteractive',
      },
      { line: 'service haproxy stop', frontend: 'noninteractive' },
    ]);
    expect(checks).toBe(2);
  });

  it('postfix: preseeded to "No configuration" before apt-get, and its service stopped after (the tests only run postconf)', () => {
    const c = capture();
    const { run, calls } = recorder();
    const postfix = DEBIAN_VALIDATORS.find((v) => v.package === 'postfix') as DebianValidator;
    let checks = 0;
    const missing = (list: readonly DebianValidator[]): DebianValidator[] => (checks++ === 0 ? [...list] : []);
    expect(ensureDebianValidators({ list: [postfix], host: { isRoot: true, hasAptGet: true }, run, missing, ...c.sinks })).toBe(0);
    expect(calls.map((x) => x.line)).toEqual([
      'sh -c printf "%s\\n" "$1" | debconf-set-selections sh postfix postfix/main_mailer_type select No configuration',
      'apt-get -qq -o DPkg::Lock::Timeout=300 update',
      'apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends postfix',
      'service postfix stop',
    ]);
  });

  it('root with apt-get: the daemons whose packages start a system service are stopped (the tests run their own)', () => {
    const c = capture();
    const { run, calls } = recorder();
    let checks = 0;
    const missing = (list: readonly DebianValidator[]): DebianValidator[] => (checks++ === 0 ? [...list] : []);
    const daemons = DEBIAN_VALIDATORS.filter((v) => ['clamav-daemon', 'rspamd', 'spamd', 'dovecot-imapd'].includes(v.package));
    expect(ensureDebianValidators({ list: daemons, host: { isRoot: true, hasAptGet: true }, run, missing, ...c.sinks })).toBe(0);
    expect(calls.slice(2).map((x) => x.line)).toEqual([
      'service clamav-daemon stop',
      'service clamav-freshclam stop',
      'service rspamd stop',
      'service spamd stop',
      'service dovecot stop',
    ]);
  });

  it('root, apt-get install fails: stops with apt-get output and the command to run by hand', () => {
    const c = capture();
    const { run, calls } = recorder({ install: 100 });
    const code = ensureDebianValidators({ list: [ABSENT], host: { isRoot: true, hasAptGet: true }, run, missing: (l) => [...l], ...c.sinks });
    expect(code).toBe(1);
    expect(calls.map((x) => x.line.split(' ').at(-2))).toEqual(['DPkg::Lock::Timeout=300', '--no-install-recommends']);
    const text = c.err.join('');
    expect(text).toContain('failed (exit 100):\nE: install went wrong');
    expect(text).toContain(installCommand([ABSENT.package]));
    expect(text).toContain('installing them failed, see above');
  });

  it('root, apt-get succeeds but the package is still absent: stops', () => {
    const c = capture();
    const { run } = recorder();
    expect(ensureDebianValidators({ list: [ABSENT], host: { isRoot: true, hasAptGet: true }, run, missing: (l) => [...l], ...c.sinks })).toBe(1);
    expect(c.err.join('')).toContain('still not installed: mailfleet-test-no-such-package');
  });

  it('npm test runs the check first and vitest only when it passes; the check runs as a script', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toBe('tsx test/setup/debian-packages.ts && vitest run');
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'test/setup/debian-packages.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: '' });
  });

  it('.ci/run runs exactly the README test command', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toMatch(/^npm test {2,}# the whole test suite$/m);
    const code = readFileSync(path.join(root, '.ci', 'run'), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l));
    expect(code.filter((l) => /^\s*npm test$/.test(l)).length).toBeGreaterThanOrEqual(1);
    // Tests run only through that command (no direct test runner call that could drift from it).
    const runsTests = /^(npx |npm exec )?vitest\b|^npm (run |run-script )?t(est)?\b/;
    expect(code.map((l) => l.trim()).filter((l) => runsTests.test(l) && l !== 'npm test')).toEqual([]);
  });
});
