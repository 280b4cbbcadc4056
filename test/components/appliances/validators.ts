import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The daemons' own configuration checkers, run on what components/appliances
 * renders: `clamconf` (Debian package clamav-daemon) parses clamd.conf and
 * freshclam.conf exactly as clamd and freshclam do; `rspamadm` (package
 * rspamd) loads rspamd's shipped configuration with our local.d over it.
 * Both packages are in test/setup/debian-packages.ts; a missing one fails
 * the test with the command that installs it.
 */

function requireTool(command: string, pkg: string): void {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(`${command} is not installed, so the appliance configs cannot be checked by the real parser. Install it (Debian: \`apt-get install -y ${pkg}\`; npm test does this as root) and re-run.`);
  }
}

export interface CheckResult {
  code: number | null;
  output: string;
}

/** `clamconf -c <dir>` over clamd.conf (and freshclam.conf when given). */
export function clamconf(files: { 'clamd.conf': string; 'freshclam.conf'?: string }): CheckResult {
  requireTool('clamconf', 'clamav-daemon');
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-clamconf-'));
  try {
    for (const [name, content] of Object.entries(files)) if (content !== undefined) writeFileSync(join(dir, name), content);
    const r = spawnSync('clamconf', ['-c', dir], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** clamconf prints problems as `ERROR: Parse error ... Unknown option X` and still exits 0. */
export function clamconfProblems(r: CheckResult): string[] {
  return r.output.split('\n').filter((l) => /^(ERROR|WARNING)\b|Parse error|Unknown option|Incorrect argument/.test(l));
}

/** The effective value clamconf reports for an option (`Key = "value"`), or undefined. */
export function clamconfValue(r: CheckResult, key: string): string | undefined {
  return new RegExp(`^${key} = "([^"]*)"$`, 'm').exec(r.output)?.[1];
}

/**
 * Runs `rspamadm <args>` with `localFiles` as $LOCAL_CONFDIR/local.d over
 * the installed rspamd's shipped configuration (what local.d is for on
 * Debian and in the official image alike).
 */
export function rspamadm(localFiles: Record<string, string>, args: readonly string[]): CheckResult {
  requireTool('rspamadm', 'rspamd');
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-rspamd-'));
  try {
    mkdirSync(join(dir, 'local.d'));
    for (const [name, content] of Object.entries(localFiles)) writeFileSync(join(dir, 'local.d', name), content);
    const r = spawnSync('rspamadm', [`--var=LOCAL_CONFDIR=${dir}`, ...args], { encoding: 'utf8', timeout: 120_000, cwd: dir });
    return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Modules `rspamadm configdump -m` reports enabled. */
export function enabledModules(r: CheckResult): string[] {
  const line = /^Modules enabled: (.*)$/m.exec(r.output)?.[1];
  if (line === undefined) throw new Error(`rspamadm configdump -m printed no module list:\n${r.output}`);
  return line.split(',').map((m) => m.trim()).filter(Boolean);
}
