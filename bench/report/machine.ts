import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The commit the bench ran from, and whether tracked files had uncommitted changes. */
export function gitState(): { commit: string | null; dirty: boolean } {
  const commit = git(['rev-parse', 'HEAD']);
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { commit, dirty: Boolean(status) };
}

/** File system type and device of the folder the suites keep their storage in (os.tmpdir()). */
export function storageDescription(dir = tmpdir()): string {
  try {
    const out = execFileSync('df', ['-PT', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
    const f = out[out.length - 1].split(/\s+/);
    return `${dir} on ${f[0]} (${f[1]})`;
  } catch {
    return dir;
  }
}

export function machineNow(): { cpus: number; cpuModel: string; memGiB: number; kernel: string; node: string; storage: string } {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    storage: storageDescription(),
  };
}

export const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);
