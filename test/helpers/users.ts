import { rename, writeFile } from 'node:fs/promises';
import { hashPassword, type ScryptParams } from '../../mail-runtime/auth';

/** Cheap scrypt parameters for tests (the hash records them, so verification uses the same). */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

export interface TestUser {
  address: string;
  password: string;
  quota?: { bytes?: number; messages?: number };
  /** Addresses that log in as / name this user (users file `aliases`). */
  aliases?: string[];
  disabled?: boolean;
  /** Hash cost of this user's password (FAST_SCRYPT unless given). */
  scrypt?: ScryptParams;
}

export const ALICE: TestUser = { address: 'alice@example.com', password: 'alice secret' };
export const BOB: TestUser = { address: 'bob@example.com', password: 'bob-pw' };

/**
 * Writes a users file (YAML) for the given users the way a config manager
 * does: a new file renamed over the old one, so a running node watching it
 * never reads half a file and sees a new inode.
 */
export async function writeUsersFile(file: string, users: readonly TestUser[]): Promise<void> {
  const lines = ['users:'];
  for (const u of users) {
    lines.push(`  - address: ${u.address}`, `    password: "${await hashPassword(u.password, u.scrypt ?? FAST_SCRYPT)}"`);
    if (u.quota) lines.push(`    quota: ${JSON.stringify(u.quota)}`);
    if (u.aliases) lines.push(`    aliases: ${JSON.stringify(u.aliases)}`);
    if (u.disabled) lines.push('    disabled: true');
  }
  await writeFile(`${file}.tmp`, `${lines.join('\n')}\n`);
  await rename(`${file}.tmp`, file);
}
