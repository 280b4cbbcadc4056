import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
/** Where the hub finds the built page (mail-runtime/hub/api/static.ts). */
export const DASHBOARD_DIST = join(ROOT, 'dashboard', 'dist');
/** Screenshots of the browser tests (gitignored), kept as test artifacts. */
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');

/**
 * `npm install` builds the dashboard (package.json `prepare`); a checkout
 * whose build was removed is built here once, so the tests never serve a
 * stale or missing page silently.
 */
export function ensureDashboardBuilt(): void {
  if (existsSync(join(DASHBOARD_DIST, 'index.html'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'dashboard', 'vite.config.mts')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the dashboard failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}
