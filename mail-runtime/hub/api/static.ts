import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { HubError } from '../errors';

/**
 * The dashboard's built assets (`npm run build:dashboard`, run by `npm
 * install`), served under /dashboard/ by the hub's admin port. Nothing here
 * knows a secret: the page logs in through POST /v1/session and then uses
 * the admin API like any other client.
 */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/**
 * Same-origin only: scripts and styles from the hub itself (no CDN, no inline
 * script), never framed (clickjacking of the drain button). uPlot and the
 * framework set element styles from script, hence 'unsafe-inline' for styles only.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** `<repo>/dashboard/dist`, looked for upward from this file (sources under tsx, or the compiled dist/). */
export function findDashboardDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'dashboard', 'dist');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = resolve(dir, '..');
  }
  return resolve(__dirname, '../../../dashboard/dist');
}

export async function serveDashboard(req: IncomingMessage, res: ServerResponse, path: string, dir: string): Promise<void> {
  if (path === '/' || path === '/dashboard') {
    res.writeHead(302, { location: '/dashboard/' });
    res.end();
    return;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(path.slice('/dashboard/'.length));
  } catch {
    throw new HubError('bad_request', 'the path is not valid percent-encoding');
  }
  // Client-side pages (#/settings) all load index.html; only files with an extension are assets.
  if (rel === '' || extname(rel) === '') rel = 'index.html';
  const root = resolve(dir);
  const file = resolve(root, rel);
  if (!file.startsWith(root + sep)) throw new HubError('not_found', `no file ${path}`);
  const type = TYPES[extname(file)];
  if (!type) throw new HubError('not_found', `no file ${path}`);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    if (rel === 'index.html') throw new HubError('unavailable', `the dashboard is not built (${root} has no index.html): run \`npm run build:dashboard\``);
    throw new HubError('not_found', `no file ${path}`);
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': data.length,
    // Vite names assets by content hash: they never change; index.html must be fetched again to see a new build.
    'cache-control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-store',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(req.method === 'HEAD' ? undefined : data);
}
