import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findAnchors, installSteps, processTree, treeMemory, type RunCommand } from '../../bench/anchors';


/** A fake system: which packages dpkg reports installed, and what each command answers. */
function fakeSystem(installed: Set<string>, opts: { aptFails?: boolean; installWorks?: boolean } = {}) {
  const calls: string[] = [];
  const run: RunCommand = (command, args, o) => {
    calls.push([command, ...args].join(' ') + (o?.input ? ` <<< ${o.input.trim()}` : ''));
    if (command === 'dpkg-query') return { status: installed.has(args[2]) ? 0 : 1, output: installed.has(args[2]) ? 'installed' : '' };
    if (command === 'apt-get' && args.includes('install')) {
      if (opts.aptFails) return { status: 100, output: 'E: Unable to locate package' };
      if (opts.installWorks) for (const p of args.slice(args.indexOf('--no-install-recommends') + 1)) installed.add(p);
      return { status: 0, output: '' };
    }
    if (command.endsWith('postconf')) return { status: 0, output: '3.7.11\n' };
    if (command.endsWith('dovecot')) return { status: 0, output: '2.3.19.1 (9b53102964)\n' };
    return { status: 0, output: '' };
  };
  return { run, calls };
}

const ALL = ['postfix', 'dovecot-imapd', 'dovecot-pop3d', 'dovecot-lmtpd'];

describe('finding and installing the anchors', () => {
  it('installed: reports versions and runs no apt-get', () => {
    const sys = fakeSystem(new Set(ALL));
    expect(findAnchors({ run: sys.run, env: {} })).toEqual({ available: true, versions: { postfix: '3.7.11', dovecot: '2.3.19.1 (9b53102964)' }, installedNow: false });
    expect(sys.calls.some((c) => c.startsWith('apt-get'))).toBe(false);
  });

  it('BENCH_ANCHORS=0: mailfleet alone, nothing probed', () => {
    const sys = fakeSystem(new Set());
    expect(findAnchors({ run: sys.run, env: { BENCH_ANCHORS: '0' } })).toEqual({ available: false, reason: 'BENCH_ANCHORS=0' });
    expect(sys.calls).toEqual([]);
  });

  it('missing and not root: says which packages and the command, installs nothing', () => {
    const sys = fakeSystem(new Set(['postfix']));
    const r = findAnchors({ run: sys.run, env: {}, isRoot: false });
    expect(r).toEqual({ available: false, reason: 'missing dovecot-imapd, dovecot-pop3d, dovecot-lmtpd; install as root: apt-get install --no-install-recommends dovecot-imapd dovecot-pop3d dovecot-lmtpd' });
    expect(sys.calls.some((c) => c.startsWith('apt-get'))).toBe(false);
  });

  it('missing, root: preseeds Postfix to "No configuration", installs non-interactively, then stops and disables both services', () => {
    const sys = fakeSystem(new Set(), { installWorks: true });
    const r = findAnchors({ run: sys.run, env: {}, isRoot: true });
    expect(r).toMatchObject({ available: true, installedNow: true });
    const apt = sys.calls.filter((c) => /^(debconf|apt-get|service|update-rc\.d|systemctl)/.test(c));
    expect(apt.slice(0, 3)).toEqual([
      'debconf-set-selections <<< postfix postfix/main_mailer_type select No configuration',
      'apt-get -qq -o DPkg::Lock::Timeout=300 update',
      `apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends ${ALL.join(' ')}`,
    ]);
    expect(apt.slice(3).sort()).toEqual(
      existsSync('/run/systemd/system')
        ? ['systemctl disable --now dovecot', 'systemctl disable --now postfix']
        : ['service dovecot stop', 'service postfix stop', 'update-rc.d dovecot disable', 'update-rc.d postfix disable'],
    );
  });

  it('apt-get fails: the anchors are unavailable with apt-get\'s words', () => {
    const sys = fakeSystem(new Set(), { aptFails: true });
    const r = findAnchors({ run: sys.run, env: {}, isRoot: true });
    expect(r.available).toBe(false);
    expect(!r.available && r.reason).toMatch(/apt-get .* install .* failed \(exit 100\): E: Unable to locate package/);
  });

  it('with systemd, services are disabled and stopped in one step each', () => {
    expect(installSteps(['postfix'], true).slice(3).map((s) => [s.command, ...s.args].join(' '))).toEqual(['systemctl disable --now postfix', 'systemctl disable --now dovecot']);
  });
});

describe('process-tree memory', () => {
  it('counts the root and its children, RSS and PSS', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await new Promise((r) => child.once('spawn', r));
      const pids = await processTree(process.pid);
      expect(pids).toContain(process.pid);
      expect(pids).toContain(child.pid);
      const mem = await treeMemory(process.pid);
      expect(mem.processes).toBe(pids.length);
      expect(mem.rss).toBeGreaterThan(0);
      expect(mem.pss).toBeGreaterThan(0);
      expect(mem.pss).toBeLessThanOrEqual(mem.rss);
      const alone = await treeMemory(child.pid as number);
      expect(alone.processes).toBe(1);
      expect(mem.rss).toBeGreaterThan(alone.rss);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
