import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Validates a cloud-config document with cloud-init's own schema checker
 * (`cloud-init schema --config-file`, Debian package `cloud-init`). Shared by
 * the cloud-init tests and the VM platform adapters' tests.
 */

export interface SchemaResult {
  code: number | null;
  output: string;
}

let checked = false;
function requireCloudInit(): void {
  if (checked) return;
  const probe = spawnSync('cloud-init', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'cloud-init is not installed, so user data cannot be validated against its schema. ' +
        'Install it (Debian/Ubuntu: `apt-get install -y cloud-init`; .ci/run does this) and re-run the tests.',
    );
  }
  checked = true;
}

export function cloudInitSchema(document: string): SchemaResult {
  requireCloudInit();
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-cloud-init-'));
  try {
    const file = join(dir, 'user-data.yaml');
    writeFileSync(file, document);
    const r = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when cloud-init accepts the document: exit 0 and no error/invalid wording. */
export function isValidCloudConfig(r: SchemaResult): boolean {
  return r.code === 0 && !/invalid|error/i.test(r.output);
}

/** Validates several documents concurrently (each a separate `cloud-init schema` run). */
export async function cloudInitSchemaAll(documents: readonly string[]): Promise<SchemaResult[]> {
  requireCloudInit();
  return Promise.all(
    documents.map(async (document) => {
      const dir = await mkdtemp(join(tmpdir(), 'mailfleet-cloud-init-'));
      try {
        const file = join(dir, 'user-data.yaml');
        await writeFile(file, document);
        return await new Promise<SchemaResult>((resolve) => {
          execFile('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
            resolve({ code, output: `${stdout ?? ''}${stderr ?? ''}` });
          });
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
  );
}
