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
export const OFFLINE_PROVIDER_CREDENTIALS: readonly string[] = ['proxmoxve:apiToken', 'vsphere:password', 'mailfleet:powerPassword'];

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
  // Imported Pulumi ESC environments first: the stack's own config wins over them, as in Pulumi.
  for (const env of environmentsOf(doc as object, file)) {
    const fromEnv = readEscEnvironment(stacksDir, env, file, project);
    Object.assign(config, fromEnv.config);
    secretKeys.push(...fromEnv.secretKeys);
  }
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
  return { stack, file, config, secretKeys: [...new Set(secretKeys)].filter((k) => k in config) };
}

/** Folder (under the stacks folder) holding the example Pulumi ESC environment definitions the stacks import. */
export const ESC_DIR = 'esc';

/** `environment:` of a stack file: a list of environment names, or `{ imports: [...] }`. */
function environmentsOf(doc: object, file: string): string[] {
  const env = (doc as { environment?: unknown }).environment;
  if (env === undefined || env === null) return [];
  const list = Array.isArray(env) ? env : typeof env === 'object' ? (env as { imports?: unknown }).imports : undefined;
  if (!Array.isArray(list) || !list.every((e) => typeof e === 'string')) {
    throw new StackConfigFileError(`${file}: "environment:" must be a list of Pulumi ESC environment names`);
  }
  return list as string[];
}

/**
 * An imported ESC environment, offline: `<project>/<env>` (or `<env>`) is
 * read from `stacks/esc/<env>.yaml`, an environment definition whose
 * `values.pulumiConfig` Pulumi merges into the stack's config. `fn::secret`
 * values cannot be decrypted offline: they become the placeholder, marked
 * secret (like `secure:` in a stack file).
 */
function readEscEnvironment(stacksDir: string, env: string, from: string, project: string): { config: Record<string, string>; secretKeys: string[] } {
  const name = env.split('/').pop()!;
  const file = join(stacksDir, ESC_DIR, `${name}.yaml`);
  if (!existsSync(file)) {
    throw new StackConfigFileError(`${from} imports the Pulumi ESC environment "${env}"; the offline preview reads its definition from ${file}, which does not exist`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StackConfigFileError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const values = (doc as { values?: { pulumiConfig?: unknown } } | null)?.values?.pulumiConfig;
  if (!values || typeof values !== 'object' || Array.isArray(values)) {
    throw new StackConfigFileError(`${file}: an ESC environment for stacks sets values.pulumiConfig (a mapping of config keys)`);
  }
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
    const full = key.includes(':') ? key : `${project}:${key}`;
    if (isEscSecret(value)) {
      config[full] = SECRET_PLACEHOLDER;
      secretKeys.push(full);
    } else if (typeof value === 'string') {
      config[full] = value;
    } else {
      if (containsEscSecret(value)) secretKeys.push(full);
      config[full] = JSON.stringify(stripEscSecrets(value));
    }
  }
  return { config, secretKeys };
}

const isEscSecret = (v: unknown): boolean => Boolean(v) && typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 1 && 'fn::secret' in (v as object);

function containsEscSecret(v: unknown): boolean {
  if (isEscSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsEscSecret);
  if (v && typeof v === 'object') return Object.values(v).some(containsEscSecret);
  return false;
}

function stripEscSecrets(v: unknown): unknown {
  if (isEscSecret(v)) return SECRET_PLACEHOLDER;
  if (Array.isArray(v)) return v.map(stripEscSecrets);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripEscSecrets(x)]));
  return v;
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
