import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BOOTSTRAP_PATH, renderMemberUserData } from '../../../components/cloud-init';
import { runtimeInstallLines } from '../../../components/cloud-init/runtime-install';
import { fakeSecrets, runtimeOf, vmCluster } from './fixtures';

/**
 * The runtime install step of the bootstrap, run for real: /bin/sh with the
 * script's `set -eu`, curl fetching a tarball (file:// URL), sha256sum, tar
 * and npm, into a temporary install dir. What the VM runs is the same text
 * (checked below against the rendered user data).
 */

let dir: string;
let tarball: string;
let sha256: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailfleet-runtime-install-'));
  // An npm-pack-shaped tarball (package/...) with no dependencies, so `npm install` needs no registry.
  mkdirSync(join(dir, 'src', 'package', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'src', 'package', 'package.json'), JSON.stringify({ name: 'mailfleet-fake', version: '0.0.1' }));
  writeFileSync(join(dir, 'src', 'package', 'bin', 'mailfleet.js'), 'console.log("fake runtime")\n');
  tarball = join(dir, 'mailfleet-0.0.1.tgz');
  const tar = spawnSync('tar', ['-czf', tarball, '-C', join(dir, 'src'), 'package'], { encoding: 'utf8' });
  expect(tar.status, tar.stderr).toBe(0);
  sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runStep(installDir: string, pinned: string | undefined) {
  const script = ['set -eu', ...runtimeInstallLines({ packageUrl: pathToFileURL(tarball).href, sha256: pinned, installDir })].join('\n');
  return spawnSync('sh', ['-c', script], {
    encoding: 'utf8',
    timeout: 60_000,
    // No registry: the fake package has no dependencies.
    env: { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' },
  });
}

describe('runtime install step (sha256sum -c before anything is unpacked)', () => {
  it('installs the tarball when its SHA-256 is the pinned one', () => {
    const installDir = join(dir, 'ok');
    const r = runStep(installDir, sha256);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(': OK');
    expect(readFileSync(join(installDir, 'bin', 'mailfleet.js'), 'utf8')).toContain('fake runtime');
  });

  it('refuses a tarball that differs: exit 1, a message naming both hashes, nothing unpacked', () => {
    const installDir = join(dir, 'tampered');
    const pinned = createHash('sha256').update('the release that was published').digest('hex');
    const r = runStep(installDir, pinned);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAILED');
    expect(r.stderr).toContain(`mailfleet: refusing to install ${pathToFileURL(tarball).href}: its SHA-256 is ${sha256}, runtime.sha256 pins ${pinned}`);
    expect(existsSync(installDir)).toBe(false);
  });

  it('without runtime.sha256 installs but says it is unverified', () => {
    const installDir = join(dir, 'unpinned');
    const r = runStep(installDir, undefined);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/runtime\.sha256 is not set, installing .* UNVERIFIED/);
    expect(existsSync(join(installDir, 'package.json'))).toBe(true);
  });

  it('a URL with shell metacharacters stays data in the message', () => {
    const marker = join(dir, 'pwned');
    const url = `https://example.net/mailfleet-1.0.0.tgz?a=$(touch ${marker})&b='x'`;
    const lines = runtimeInstallLines({ packageUrl: url, sha256, installDir: '/opt/mailfleet' });
    const script = ['set -eu', 'tmp=$(mktemp -d)', ...lines.filter((l) => l.startsWith('  msg=')), 'echo "$msg"'].join('\n');
    const r = spawnSync('sh', ['-c', script.replace(/\$\(sha256sum [^)]*\)/, 'HASH')], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(url);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('the bootstrap a VM runs', () => {
  const { spec, members } = vmCluster();
  const storage = spec.storage as Extract<typeof spec.storage, { kind: 'nfs' }>;
  const member = members.find((m) => m.role === 'node')!;
  const bootstrapOf = (runtime: ReturnType<typeof runtimeOf>) => {
    const doc = parse(renderMemberUserData({ member, storage, runtime, secrets: fakeSecrets })) as { write_files: { path: string; content: string }[] };
    return doc.write_files.find((f) => f.path === BOOTSTRAP_PATH)!.content;
  };

  it('carries exactly the tested install step, with runtime.sha256, between Node.js and the unit', () => {
    const script = bootstrapOf(runtimeOf(spec));
    const step = runtimeInstallLines({ packageUrl: spec.runtime.packageUrl, sha256: spec.runtime.sha256, installDir: '/opt/mailfleet' }).join('\n');
    expect(spec.runtime.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(script).toContain(step);
    expect(script).toContain(`sha256sum -c -`);
    expect(script.indexOf('apt-get install -y nodejs')).toBeLessThan(script.indexOf(step));
    expect(script.indexOf(step)).toBeLessThan(script.indexOf('systemctl enable --now'));
    expect(script).toMatch(/^set -eu$/m);
  });

  it('without runtime.sha256 the step warns instead of checking', () => {
    const script = bootstrapOf({ ...runtimeOf(spec), sha256: undefined });
    expect(script).not.toContain('sha256sum -c');
    expect(script).toContain('UNVERIFIED');
  });
});
