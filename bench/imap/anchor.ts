import { execFile } from 'node:child_process';
import { link, mkdir, readdir, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { doveadmHash, type DovecotInstance } from '../anchors';
import { pooled } from './build-folder';

const run = promisify(execFile);

/**
 * Gives Dovecot the very same 100,000-message folder the node got: every
 * Maildir file of the node's INBOX is hard-linked (copied across file
 * systems) into the Dovecot user's `Maildir/cur`, with the same names —
 * flags in the `:2,` info and sizes in `S=` included — and handed to the
 * mail user. Then `doveadm index` builds Dovecot's index and cache, the
 * counterpart of the node's reconcile + summary fill. Returns the time of
 * that index step.
 */
export async function fillDovecotFolder(srcCur: string, dovecot: DovecotInstance, address: string): Promise<{ files: number; indexMs: number }> {
  const home = dovecot.homeOf(address);
  const maildir = join(home, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
  const names = (await readdir(srcCur)).filter((n) => n.includes(':2,'));
  await pooled(names.length, 32, async (i) => {
    const from = join(srcCur, names[i]);
    const to = join(maildir, 'cur', names[i]);
    try {
      await link(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFile(from, to);
    }
  });
  await run('chown', ['-R', `${dovecot.mailOwner.uid}:${dovecot.mailOwner.gid}`, join(dovecot.dir, 'mail')]);
  const t0 = performance.now();
  await dovecot.doveadm(['index', '-u', address, 'INBOX']);
  return { files: names.length, indexMs: performance.now() - t0 };
}

/** A Dovecot password scheme the bench can give a user, with what it costs. */
export interface SchemeCandidate {
  label: string;
  scheme: string;
  rounds?: number;
}

/**
 * Schemes Dovecot 2.3 offers that are near scrypt N=2^15 in cost (it has no
 * scrypt): BLF-CRYPT at costs 8–12 (each step doubles the time) and
 * ARGON2ID at what `doveadm pw -s ARGON2ID` makes (libsodium's
 * "interactive" limits: 64 MiB, opslimit as printed in the hash).
 * SHA512-CRYPT is the scheme Dovecot's documentation recommends for
 * passwd-files: the "default" side of the comparison.
 */
export const SCHEME_CANDIDATES: readonly SchemeCandidate[] = [
  { label: 'BLF-CRYPT cost 8', scheme: 'BLF-CRYPT', rounds: 8 },
  { label: 'BLF-CRYPT cost 9', scheme: 'BLF-CRYPT', rounds: 9 },
  { label: 'BLF-CRYPT cost 10', scheme: 'BLF-CRYPT', rounds: 10 },
  { label: 'BLF-CRYPT cost 11', scheme: 'BLF-CRYPT', rounds: 11 },
  { label: 'BLF-CRYPT cost 12', scheme: 'BLF-CRYPT', rounds: 12 },
  { label: 'ARGON2ID (doveadm default: 64 MiB)', scheme: 'ARGON2ID' },
];
export const DOVECOT_DEFAULT_SCHEME: SchemeCandidate = { label: 'SHA512-CRYPT (5,000 rounds)', scheme: 'SHA512-CRYPT' };

/** The hash for a candidate, with the parameters Dovecot wrote into it (e.g. `m=65536,t=3,p=1`). */
export function candidateHash(c: SchemeCandidate, password: string): { hash: string; params: string } {
  const hash = doveadmHash(c.scheme, password, c.rounds);
  const argon = /\$argon2id\$v=\d+\$([^$]+)\$/.exec(hash);
  return { hash, params: argon ? argon[1] : c.rounds ? `cost ${c.rounds}` : '' };
}
