import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The `name` in mailfleet's package.json: how its root is recognised. */
export const PACKAGE_NAME = 'mailfleet';

export interface PackageInfo {
  /** Folder holding mailfleet's package.json: a repository checkout, or node_modules/mailfleet. */
  root: string;
  version: string;
}

let cached: PackageInfo | undefined;

/**
 * Where mailfleet's package.json is. Found by walking up from this file to
 * the first package.json named `mailfleet`, so the answer is the same from
 * the TypeScript sources (components/) and from the compiled output
 * (dist/components/), in a checkout and in an installed package; a counted
 * `..` would point into dist/ once compiled.
 */
export function packageInfo(from: string = __dirname): PackageInfo {
  if (cached && from === __dirname) return cached;
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE_NAME) {
        const info = { root: dir, version: typeof pkg.version === 'string' ? pkg.version : '0.0.0' };
        if (from === __dirname) cached = info;
        return info;
      }
    }
    if (dirname(dir) === dir) throw new Error(`no package.json named "${PACKAGE_NAME}" in ${from} or any folder above it`);
  }
}
