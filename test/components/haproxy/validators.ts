import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs the real validators on generated text. CI installs both (Debian
 * packages `haproxy` and `keepalived`, see .ci/run), so a missing binary is a
 * failure with a clear message, never a skip that would hide a broken config.
 */

export interface CheckResult {
  status: number;
  output: string;
}

function requireBinary(bin: string, pkg: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`"${bin}" is not installed: these tests validate generated configs with the real ${bin}. Install it with: apt-get install -y ${pkg}`);
  }
}

export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-lb-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `haproxy -c -f <file>`: exit 0 means the configuration is valid. */
export function haproxyCheck(text: string): CheckResult {
  requireBinary('haproxy', 'haproxy');
  return withTempDir((dir) => {
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, text);
    const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
  });
}

/** HAProxy warnings, minus the expected "could not resolve" for names only Docker's DNS knows. */
export function haproxyWarnings(output: string, allowUnresolved: boolean): string[] {
  return output
    .split('\n')
    .filter((l) => l.includes('[WARNING]') || l.includes('[ALERT]'))
    .filter((l) => !(allowUnresolved && l.includes('could not resolve address')));
}

/** `keepalived -t -f <file>` with extra files (the auth include) written beside it; `@DIR@` in texts is the temp dir. */
export function keepalivedCheck(text: string, extra: Record<string, string> = {}): CheckResult {
  requireBinary('keepalived', 'keepalived');
  return withTempDir((dir) => {
    for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content, { mode: 0o600 });
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, text.replaceAll('@DIR@', dir));
    const r = spawnSync('keepalived', ['-t', '-f', file], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
  });
}

/**
 * keepalived -t checks that the VRRP interface exists on this machine, so
 * configs checked here use one of this machine's interfaces (not loopback,
 * which VRRP refuses).
 */
export function localInterface(): string {
  const names = readdirSync('/sys/class/net').filter((n) => n !== 'lo').sort();
  if (names.length === 0) throw new Error('keepalived -t needs a non-loopback network interface on this machine; none found in /sys/class/net');
  return names[0]!;
}
