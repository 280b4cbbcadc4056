/**
 * The Debian packages the test suite uses as real validators, checked (and,
 * as root with apt-get, installed) before `npm test` runs anything.
 *
 * `npm test` is `tsx test/setup/debian-packages.ts && vitest run`: an npm
 * script wrapper rather than a vitest `globalSetup`, because
 * - `npm test` (README, .ci/run) stays the one command for the whole suite,
 *   and `npm test -- <file>` still works (npm appends the arguments to
 *   `vitest run`);
 * - `npx vitest run test/<area>` stays a plain, side-effect-free focused run:
 *   a globalSetup would run apt-get (or refuse) for every run, even for files
 *   that never call these tools. A focused run that does need one still fails
 *   with a message naming the package (test/components/haproxy/validators.ts,
 *   test/components/cloud-init/validate.ts);
 * - it stops before vitest starts, so the reader sees one message instead of
 *   nineteen failed tests.
 */
import { spawnSync } from 'node:child_process';

export interface DebianValidator {
  /** Debian package name. */
  readonly package: string;
  /** The program the tests run; probed on PATH when dpkg is absent. */
  readonly command: string;
  /** Why the tests need it (printed when it is missing). */
  readonly usedFor: string;
  /** debconf answers preseeded before installing (so the package configures no system service of its own). */
  readonly debconf?: string;
  /** System services the package starts on install; stopped right after (the tests only run the validator). */
  readonly services?: readonly string[];
}

/** The one list of Debian packages the tests need. */
export const DEBIAN_VALIDATORS: readonly DebianValidator[] = [
  { package: 'haproxy', command: 'haproxy', usedFor: '`haproxy -c` checks every generated HAProxy config', services: ['haproxy'] },
  { package: 'keepalived', command: 'keepalived', usedFor: '`keepalived -t` checks the VRRP configs of the HAProxy pairs' },
  {
    package: 'cloud-init',
    command: 'cloud-init',
    usedFor: "`cloud-init schema` and cloud-init's network renderer check the VMs' user data",
  },
  {
    package: 'postfix',
    command: 'postconf',
    usedFor: '`postconf -c <dir> -n` / `-M` check the benchmark anchor\'s generated Postfix main.cf and master.cf (test/bench)',
    // "No configuration": no /etc/postfix/main.cf, so the package's own service has nothing to run.
    debconf: 'postfix postfix/main_mailer_type select No configuration',
    services: ['postfix'],
  },
  {
    package: 'dovecot-core',
    command: 'doveconf',
    usedFor: "`doveconf -c <file> -n` checks the benchmark anchor's generated Dovecot config (test/bench)",
    services: ['dovecot'],
  },
  {
    package: 'clamav-daemon',
    command: 'clamd',
    usedFor: "a real clamd (own config and EICAR signature, no freshclam) for the antivirus filter (test/smtp/filters/clamd.test.ts); its `clamconf` checks the appliances' clamd.conf / freshclam.conf",
    // clamav-freshclam is pulled in by clamav-daemon; the tests write their own signatures and never download any.
    services: ['clamav-daemon', 'clamav-freshclam'],
  },
  {
    package: 'rspamd',
    command: 'rspamd',
    usedFor: "a real rspamd (own local config, no DNS, no Bayes) for the spam filter's HTTP client and, in milter mode, the milter client; `rspamadm configtest` / `configdump` check the appliances' settings",
    services: ['rspamd'],
  },
  {
    package: 'spamd',
    command: 'spamd',
    usedFor: "SpamAssassin's spamd (local tests only) for the spam filter's SPAMC client (test/smtp/filters/spam.test.ts)",
    services: ['spamd'],
  },
  {
    package: 'dovecot-imapd',
    command: 'dovecot',
    usedFor:
      'a real Dovecot (own config on a loopback port, never the system service) whose Maildir++ trees a node adopts and reads back (test/migration), and `doveadm pw` for the operator password hashes the users file accepts (test/auth/password-schemes.test.ts)',
    services: ['dovecot'],
  },
  {
    package: 'chromium',
    command: 'chromium',
    usedFor: "a real headless browser (driven by playwright-core, never a downloaded one) for the hub dashboard's end-to-end and axe-core accessibility tests (test/hub/dashboard/browser.test.ts)",
  },
  {
    package: 'prometheus',
    command: 'promtool',
    usedFor: '`promtool check rules` and `promtool test rules` check the alert rules in examples/monitoring/ (test/examples/monitoring.test.ts)',
    // The package starts its own Prometheus server (port 9090); the tests only run promtool.
    services: ['prometheus'],
  },
];

/** A command the installer runs; injectable so tests can check the plan without running apt-get. */
export interface CommandResult {
  status: number | null;
  output: string;
}
export type RunCommand = (command: string, args: readonly string[], env: NodeJS.ProcessEnv) => CommandResult;

export const runCommand: RunCommand = (command, args, env) => {
  const r = spawnSync(command, args, { env, encoding: 'utf8' });
  return { status: r.error ? null : r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
};

function onPath(command: string): boolean {
  // `command -v` is POSIX sh; the name comes from DEBIAN_VALIDATORS or a test, never from input.
  return spawnSync('sh', ['-c', 'command -v "$1" >/dev/null', 'sh', command]).status === 0;
}

/**
 * True when the package is installed: dpkg's own status ("installed") when
 * dpkg is there, otherwise whether its command is on PATH (another distribution
 * that provides the same tools).
 */
export function isInstalled(v: DebianValidator): boolean {
  const q = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', v.package], { encoding: 'utf8' });
  if (q.error) return onPath(v.command);
  return q.status === 0 && q.stdout.trim() === 'installed';
}

export function missingValidators(list: readonly DebianValidator[] = DEBIAN_VALIDATORS): DebianValidator[] {
  return list.filter((v) => !isInstalled(v));
}

/** The exact command that installs the packages, as printed to the user. */
export function installCommand(packages: readonly string[]): string {
  return `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

export interface Host {
  isRoot: boolean;
  hasAptGet: boolean;
}

export function currentHost(): Host {
  return { isRoot: process.getuid?.() === 0, hasAptGet: onPath('apt-get') };
}

/** Why this process did not install the packages itself. */
function reasonNotInstalled(host: Host): string {
  if (!host.hasAptGet) return 'this machine has no apt-get (Debian 12 or Ubuntu is expected)';
  if (!host.isRoot) return 'npm test installs them itself only when run as root';
  return 'installing them failed, see above';
}

/** The message when the packages are missing and this process cannot install them. */
export function missingMessage(missing: readonly DebianValidator[], host: Host): string {
  const width = Math.max(...missing.map((v) => v.package.length));
  const why = reasonNotInstalled(host);
  return [
    `npm test: missing Debian packages the tests use as real validators: ${missing.map((v) => v.package).join(', ')}.`,
    ...missing.map((v) => `  ${v.package.padEnd(width)}  ${v.usedFor}`),
    `Install them as root, then run npm test again (${why}):`,
    `  ${installCommand(missing.map((v) => v.package))}`,
    '',
  ].join('\n');
}

export interface EnsureOptions {
  list?: readonly DebianValidator[];
  host?: Host;
  run?: RunCommand;
  /** Re-check after installing; the default asks dpkg again. */
  missing?: (list: readonly DebianValidator[]) => DebianValidator[];
  out?: (line: string) => void;
  err?: (text: string) => void;
}

/**
 * Makes sure every validator is installed. Returns the exit code for
 * `npm test`'s first step: 0 to go on to vitest, 1 to stop.
 */
export function ensureDebianValidators(opts: EnsureOptions = {}): number {
  const list = opts.list ?? DEBIAN_VALIDATORS;
  const check = opts.missing ?? missingValidators;
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = opts.err ?? ((text: string) => process.stderr.write(text));
  const missing = check(list);
  if (missing.length === 0) return 0;
  const host = opts.host ?? currentHost();
  if (!host.isRoot || !host.hasAptGet) {
    err(missingMessage(missing, host));
    return 1;
  }

  const run = opts.run ?? runCommand;
  const packages = missing.map((v) => v.package);
  out(`npm test: installing the Debian packages the tests use as validators (running as root): ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Wait for a dpkg lock held by another apt run instead of failing at once.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const preseed = missing.flatMap((v) => (v.debconf ? [v.debconf] : []));
  const steps: Array<[string, string[]]> = [
    ...preseed.map((line): [string, string[]] => ['sh', ['-c', 'printf "%s\\n" "$1" | debconf-set-selections', 'sh', line]]),
    ['apt-get', ['-qq', ...lock, 'update']],
    ['apt-get', ['-qq', ...lock, 'install', '-y', '--no-install-recommends', ...packages]],
  ];
  for (const [command, args] of steps) {
    const r = run(command, args, env);
    if (r.status !== 0) {
      err(`npm test: \`${command} ${args.join(' ')}\` failed (exit ${r.status ?? 'none'}):\n${r.output.trimEnd()}\n`);
      err(missingMessage(missing, host));
      return 1;
    }
  }
  // These packages start their services (where no policy-rc.d stops them); the tests only run the validators and start their own daemons.
  for (const v of missing) for (const service of v.services ?? []) run('service', [service, 'stop'], env);

  const still = check(list);
  if (still.length > 0) {
    err(`npm test: apt-get reported success but these are still not installed: ${still.map((v) => v.package).join(', ')}\n`);
    return 1;
  }
  return 0;
}

if (require.main === module) process.exitCode = ensureDebianValidators();
