import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { parseForeignHash } from './password-schemes';
import { sharedHashThreads } from './password-threads';
import type { PasswordVerifier } from './types';

/**
 * Password hashes are self-describing strings, so parameters can be raised
 * later without invalidating stored hashes:
 *
 *   scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>
 *
 * Defaults follow the scrypt paper / RFC 7914 §2 interactive-login advice
 * (N=2^15, r=8, p=1), giving ~32 MiB and tens of milliseconds per check.
 *
 * Hashes operators bring along ({SHA512-CRYPT}, {BLF-CRYPT}, {ARGON2ID}...,
 * see ./password-schemes.ts) are verified too, in worker threads
 * (./password-threads.ts); new hashes are always scrypt.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

const KEY_LEN = 32;
const SALT_LEN = 16;
/** Refuse absurd parameters from a tampered file (CPU/memory exhaustion). */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function memFor(p: ScryptParams): number {
  // scrypt needs 128 * N * r bytes; give headroom so node does not refuse.
  return 128 * p.N * p.r * 2 + 1024 * 1024;
}

/** Hashes a password into the self-describing format above. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await scrypt(password, salt, KEY_LEN, { N: params.N, r: params.r, p: params.p, maxmem: memFor(params) });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  key: Buffer;
}

/** Parses a stored hash; `null` when it is not a well-formed scrypt hash. */
export function parsePasswordHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return null;
  // N must be a power of two greater than 1 (RFC 7914 §2).
  if (N < 2 || (N & (N - 1)) !== 0 || N > MAX_N || r > MAX_R || p > MAX_P) return null;
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!b64.test(parts[4]) || !b64.test(parts[5])) return null;
  const salt = Buffer.from(parts[4], 'base64');
  const key = Buffer.from(parts[5], 'base64');
  if (salt.length < 8 || key.length < 16) return null;
  return { N, r, p, salt, key };
}

/** Why a stored hash cannot be used (`undefined`: it can), for the users file's error message. */
export function passwordHashProblem(stored: string): string | undefined {
  if (parsePasswordHash(stored)) return undefined;
  const f = parseForeignHash(stored);
  if (f === null) {
    return 'must be a password hash: scrypt$N$r$p$salt$hash (mailfleet user hash), {SHA512-CRYPT}$6$..., {SHA256-CRYPT}$5$..., {BLF-CRYPT}$2y$..., {ARGON2ID}$argon2id$... or {ARGON2I}$argon2i$... (doveadm pw); plain passwords are not accepted';
  }
  return f.ok ? undefined : f.problem;
}

export function isPasswordHash(stored: string): boolean {
  return passwordHashProblem(stored) === undefined;
}

/**
 * Constant-time check of a password against a stored hash: scrypt in
 * libuv's pool, the foreign schemes in a worker thread.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed) {
    const foreign = parseForeignHash(stored);
    return foreign?.ok === true ? sharedHashThreads().verify(password, stored) : false;
  }
  const key = await scrypt(password, parsed.salt, parsed.key.length, {
    N: parsed.N,
    r: parsed.r,
    p: parsed.p,
    maxmem: memFor(parsed),
  });
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

let dummyHash: Promise<string> | undefined;

/**
 * Checks done at once, unbounded: for directories used directly (tools,
 * tests). Logins go through the Authenticator's PasswordCheckPool instead.
 * An unknown user costs a real check against a dummy hash, so response
 * time does not reveal which addresses exist.
 */
export const DIRECT_PASSWORD_CHECKS: PasswordVerifier = {
  verify: verifyPassword,
  async unknownUser(password) {
    dummyHash ??= hashPassword('not-a-real-password');
    await verifyPassword(password, await dummyHash);
    return false;
  },
};
