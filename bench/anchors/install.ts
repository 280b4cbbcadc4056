import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Finds the anchors — Postfix and Dovecot from Debian — and, when they are
 * missing and this process may (root, apt-get, BENCH_ANCHORS_INSTALL not 0),
 * installs them. The packages' own system services are never left running:
 * Postfix is preseeded to "No configuration" (no /etc/postfix/main.cf, so
 * its service has nothing to start), and after installing, both services are
 * stopped and removed from boot. The bench runs private instances of its own
 * (see postfix.ts, dovecot.ts).
 */

/** The Debian packages, and a program each provides (checked when dpkg is absent). */
export const ANCHOR_PACKAGES: ReadonlyArray<{ package: string; provides: string }> = [
  { package: 'postfix', provides: '/usr/sbin/postfix' },
  { package: 'dovecot-imapd', provides: '/usr/lib/dovecot/imap' },
  { package: 'dovecot-pop3d', provides: '/usr/lib/dovecot/pop3' },
  { package: 'dovecot-lmtpd', provides: '/usr/lib/dovecot/lmtp' },
];

/** Programs the bench runs; all come with the packages above (dovecot-core is their dependency). */
export const ANCHOR_PROGRAMS = {
  postfix: '/usr/sbin/postfix',
  postconf: '/usr/sbin/postconf',
  dovecot: '/usr/sbin/dovecot',
  doveadm: '/usr/bin/doveadm',
  doveconf: '/usr/bin/doveconf',
} as const;

/** The system users the private instances run as (created by the packages; "nobody" by base-passwd). */
export const ANCHOR_USERS = { postfix: 'postfix', dovecotInternal: 'dovecot', dovecotLogin: 'dovenull', mail: 'nobody', mailGroup: 'nogroup' } as const;

export type AnchorAvailability =
  | { available: true; versions: { postfix: string; dovecot: string }; installedNow: boolean }
  | { available: false; reason: string };

export interface CommandResult {
  status: number | null;
  output: string;
}
export type RunCommand = (command: string, args: readonly string[], opts?: { env?: NodeJS.ProcessEnv; input?: string }) => CommandResult;

export const runCommand: RunCommand = (command, args, opts = {}) => {
  const r = spawnSync(command, args, { env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.error ? null : r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
};

function packageInstalled(run: RunCommand, pkg: string, provides: string): boolean {
  const q = run('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg]);
  if (q.status === null) return existsSync(provides);
  return q.status === 0 && q.output.trim() === 'installed';
}

export function missingAnchorPackages(run: RunCommand = runCommand): string[] {
  return ANCHOR_PACKAGES.filter((p) => !packageInstalled(run, p.package, p.provides)).map((p) => p.package);
}

/** The commands that install the packages without starting or configuring their system services. */
export function installSteps(packages: readonly string[], hasSystemd: boolean): Array<{ command: string; args: string[]; input?: string; mayFail?: boolean }> {
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const steps: Array<{ command: string; args: string[]; input?: string; mayFail?: boolean }> = [
    // "No configuration": the package installs the programs and no main.cf, so its service cannot run.
    { command: 'debconf-set-selections', args: [], input: 'postfix postfix/main_mailer_type select No configuration\n', mayFail: true },
    { command: 'apt-get', args: ['-qq', ...lock, 'update'] },
    { command: 'apt-get', args: ['-qq', ...lock, 'install', '-y', '--no-install-recommends', ...packages] },
  ];
  for (const service of ['postfix', 'dovecot']) {
    if (hasSystemd) steps.push({ command: 'systemctl', args: ['disable', '--now', service], mayFail: true });
    else steps.push({ command: 'service', args: [service, 'stop'], mayFail: true }, { command: 'update-rc.d', args: [service, 'disable'], mayFail: true });
  }
  return steps;
}

function version(run: RunCommand): { postfix: string; dovecot: string } | string {
  const pf = run(ANCHOR_PROGRAMS.postconf, ['-d', '-h', 'mail_version']);
  const dv = run(ANCHOR_PROGRAMS.dovecot, ['--version']);
  if (pf.status !== 0) return `postconf failed: ${pf.output.trim().split('\n')[0]}`;
  if (dv.status !== 0) return `dovecot --version failed: ${dv.output.trim().split('\n')[0]}`;
  return { postfix: pf.output.trim(), dovecot: dv.output.trim() };
}

export interface FindOptions {
  run?: RunCommand;
  env?: NodeJS.ProcessEnv;
  isRoot?: boolean;
  log?: (s: string) => void;
}

/** Finds (or installs) the anchors; never throws — an unavailable anchor is a reason, and the suites report mailfleet alone. */
export function findAnchors(opts: FindOptions = {}): AnchorAvailability {
  const run = opts.run ?? runCommand;
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  if (env.BENCH_ANCHORS === '0') return { available: false, reason: 'BENCH_ANCHORS=0' };
  let installedNow = false;
  let missing = missingAnchorPackages(run);
  if (missing.length) {
    const isRoot = opts.isRoot ?? process.getuid?.() === 0;
    const hasApt = run('sh', ['-c', 'command -v apt-get']).status === 0;
    if (env.BENCH_ANCHORS_INSTALL === '0') return { available: false, reason: `missing ${missing.join(', ')} and BENCH_ANCHORS_INSTALL=0` };
    if (!isRoot || !hasApt) {
      return { available: false, reason: `missing ${missing.join(', ')}; install as root: apt-get install --no-install-recommends ${missing.join(' ')}` };
    }
    log(`anchors: installing ${missing.join(' ')} from Debian (apt-get, non-interactive) ...`);
    const hasSystemd = existsSync('/run/systemd/system');
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const step of installSteps(missing, hasSystemd)) {
      const r = run(step.command, step.args, { env: aptEnv, input: step.input });
      if (r.status !== 0 && !step.mayFail) {
        return { available: false, reason: `\`${step.command} ${step.args.join(' ')}\` failed (exit ${r.status ?? 'none'}): ${r.output.trim().split('\n').slice(-3).join(' / ')}` };
      }
    }
    installedNow = true;
    missing = missingAnchorPackages(run);
    if (missing.length) return { available: false, reason: `apt-get reported success but ${missing.join(', ')} are still missing` };
  }
  for (const user of Object.values(ANCHOR_USERS)) {
    if (run('getent', [user === ANCHOR_USERS.mailGroup ? 'group' : 'passwd', user]).status !== 0) return { available: false, reason: `system user or group "${user}" is missing` };
  }
  const v = version(run);
  if (typeof v === 'string') return { available: false, reason: v };
  return { available: true, versions: v, installedNow };
}

let cached: AnchorAvailability | undefined;

/** findAnchors once per bench process; every suite asks this. */
export function anchors(log?: (s: string) => void): AnchorAvailability {
  cached ??= findAnchors({ log });
  return cached;
}
