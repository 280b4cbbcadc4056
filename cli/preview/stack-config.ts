import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

/**
 * Reads `stacks/Pulumi.<stack>.yaml` into the flat form the Pulumi runtime
 * keeps config in (`namespace:key` → string; objects JSON-encoded), the way
 * the CLI hands config to a program. `secure:` values cannot be decrypted
 * offline: they become a placeholder and are marked secret.
 */

export const SECRET_PLACEHOLDER = 'offline-preview-secret';

export interface StackConfig {
  stack: string;
  file: string;
  config: Record<string, string>;
  secretKeys: string[];
}

export class StackConfigFileError extends Error {}

/**
 * Provider credentials the platform adapters read from stack config. Stack
 * files do not hold them (they come from `pulumi config set --secret` or a
 * Pulumi ESC environment, see docs/gitops.md), and the offline preview never
 * talks to a provider: it fills in a placeholder secret for each one the
 * stack does not set, so `npm run preview` works with no credentials.
 */
export const OFFLINE_PROVIDER_CREDENTIALS: readonly string[] = ['proxmoxve:apiToken', 'vsphere:password'];

/** The stack's config plus a placeholder secret for every provider credential it does not set. */
export function withOfflineCredentials(c: StackConfig): StackConfig {
  const missing = OFFLINE_PROVIDER_CREDENTIALS.filter((k) => !(k in c.config));
  return {
    ...c,
    config: { ...c.config, ...Object.fromEntries(missing.map((k) => [k, SECRET_PLACEHOLDER])) },
    secretKeys: [...c.secretKeys, ...missing],
  };
}

export function listStacks(stacksDir: string): string[] {
  if (!existsSync(stacksDir)) return [];
  return readdirSync(stacksDir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((s): s is string => Boolean(s))
    .sort();
}

export function readStackConfig(stacksDir: string, stack: string, project = 'mailfleet'): StackConfig {
  const file = [join(stacksDir, `Pulumi.${stack}.yaml`), join(stacksDir, `Pulumi.${stack}.yml`)].find((f) => existsSync(f));
  if (!file) {
    const known = listStacks(stacksDir);
    throw new StackConfigFileError(
      `no stack config for "${stack}" in ${stacksDir} (expected Pulumi.${stack}.yaml)${known.length ? `; stacks there: ${known.join(', ')}` : ''}`,
    );
  }
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StackConfigFileError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new StackConfigFileError(`${file}: must be a mapping with a "config:" key`);
  const raw = (doc as { config?: unknown }).config ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new StackConfigFileError(`${file}: "config:" must be a mapping`);

  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    // A key without a namespace belongs to the project (Pulumi's rule).
    const full = key.includes(':') ? key : `${project}:${key}`;
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1 && 'secure' in value) {
      config[full] = SECRET_PLACEHOLDER;
      secretKeys.push(full);
    } else if (typeof value === 'string') {
      config[full] = value;
    } else {
      if (containsSecure(value)) secretKeys.push(full);
      config[full] = JSON.stringify(stripSecure(value));
    }
  }
  return { stack, file, config, secretKeys };
}

function containsSecure(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsSecure);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 1 && 'secure' in o) return true;
    return Object.values(o).some(containsSecure);
  }
  return false;
}

function stripSecure(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripSecure);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 1 && 'secure' in o) return SECRET_PLACEHOLDER;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, stripSecure(x)]));
  }
  return v;
}
