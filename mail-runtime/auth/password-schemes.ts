import { createHash, timingSafeEqual } from 'node:crypto';
import { compare as bcryptCompare } from 'bcryptjs';
import { argon2Verify } from 'hash-wasm';

/**
 * Password hashes operators bring from Dovecot (and from /etc/shadow, PHP,
 * passlib...): verified, never produced — new hashes are scrypt
 * (./password.ts). Accepted spellings, as Dovecot's passwd-file writes them
 * (`doveadm pw -s <SCHEME>`), with or without the `{SCHEME}` prefix:
 *
 *   {SHA512-CRYPT}$6$[rounds=N$]<salt>$<hash>   SHA-crypt (Drepper), glibc crypt(3)
 *   {SHA256-CRYPT}$5$[rounds=N$]<salt>$<hash>   the same with SHA-256
 *   {BLF-CRYPT}$2y$<cost>$<salt+hash>           bcrypt ($2a$ and $2b$ too)
 *   {ARGON2ID}$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>   PHC string (ARGON2I too)
 *   {CRYPT}<any of the crypt forms above>      Dovecot's "whatever crypt(3) knows"
 *
 * Each scheme's work factor is capped: the users file is operator input, but
 * a typo (or a tampered file) must not make one login cost minutes of CPU or
 * gigabytes of memory. The caps are far above the defaults of Dovecot,
 * glibc, PHP and passlib, so real operator data passes.
 */

/** glibc: rounds default 5000 when absent; at least 1000 (values below are raised). passlib's default is 656,000. */
export const SHA_CRYPT_DEFAULT_ROUNDS = 5000;
const SHA_CRYPT_MIN_ROUNDS = 1000;
/** Above this a SHA-crypt hash is refused (~seconds of CPU per check in a worker thread). */
export const MAX_SHA_CRYPT_ROUNDS = 1_000_000;
/** bcrypt cost is log2(rounds); Dovecot's default is 5, PHP's 10. Cost 16 is ~5 s in JavaScript. */
export const MAX_BCRYPT_COST = 16;
/**
 * Argon2 limits. RFC 9106 §4 recommends m=64 MiB, t=3 for memory-constrained
 * use, Dovecot's default; `doveadm pw -r 4` and up (libsodium's "sensitive"
 * level) write m=1 GiB, which is accepted but costs that much memory per
 * concurrent check (config `limits.passwordCheckWorkers` bounds how many).
 */
export const MAX_ARGON2_MEMORY_KIB = 1024 * 1024;
export const MAX_ARGON2_TIME = 16;
export const MAX_ARGON2_PARALLELISM = 16;

export type ForeignScheme = 'SHA512-CRYPT' | 'SHA256-CRYPT' | 'BLF-CRYPT' | 'ARGON2ID' | 'ARGON2I';

export interface ForeignHash {
  scheme: ForeignScheme;
  /** The hash without its `{SCHEME}` prefix (what the algorithm reads). */
  hash: string;
}

export type ParsedForeign = { ok: true; value: ForeignHash } | { ok: false; problem: string } | null;

const PREFIX = /^\{([A-Z0-9.-]+)\}/;
const CRYPT_B64 = /^[./0-9A-Za-z]+$/;
const STD_B64_NOPAD = /^[A-Za-z0-9+/]+$/;

/**
 * Recognises a foreign hash. `null`: not one of these schemes at all;
 * `{ ok: false }`: it is one, but malformed or above a cap (the problem says which).
 */
export function parseForeignHash(stored: string): ParsedForeign {
  const m = PREFIX.exec(stored);
  const prefix = m?.[1];
  const hash = m ? stored.slice(m[0].length) : stored;
  let scheme: ForeignScheme | undefined;
  if (hash.startsWith('$6$')) scheme = 'SHA512-CRYPT';
  else if (hash.startsWith('$5$')) scheme = 'SHA256-CRYPT';
  else if (/^\$2[aby]\$/.test(hash)) scheme = 'BLF-CRYPT';
  else if (hash.startsWith('$argon2id$')) scheme = 'ARGON2ID';
  else if (hash.startsWith('$argon2i$')) scheme = 'ARGON2I';
  if (prefix !== undefined) {
    if (prefix !== 'CRYPT' && !['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'ARGON2ID', 'ARGON2I'].includes(prefix)) {
      return { ok: false, problem: `scheme {${prefix}} is not supported (SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, ARGON2ID, ARGON2I and CRYPT are)` };
    }
    if (scheme === undefined) return { ok: false, problem: `{${prefix}} hash is not in a form this scheme writes` };
    if (prefix !== 'CRYPT' && prefix !== scheme) return { ok: false, problem: `{${prefix}} prefix on a ${scheme} hash` };
  }
  if (scheme === undefined) return null;
  const problem = checkShape(scheme, hash);
  return problem ? { ok: false, problem: `${scheme}: ${problem}` } : { ok: true, value: { scheme, hash } };
}

function checkShape(scheme: ForeignScheme, hash: string): string | undefined {
  switch (scheme) {
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT': {
      const p = parseShaCrypt(hash);
      if (typeof p === 'string') return p;
      if (p.expected === undefined) return 'no hash after the salt';
      const len = scheme === 'SHA512-CRYPT' ? 86 : 43;
      if (p.expected.length !== len || !CRYPT_B64.test(p.expected)) return `hash must be ${len} characters of crypt base64`;
      return undefined;
    }
    case 'BLF-CRYPT': {
      const m = /^\$2[aby]\$(\d\d)\$([./A-Za-z0-9]{53})$/.exec(hash);
      if (!m) return 'expected $2y$<cost>$ and 53 characters of bcrypt base64';
      const cost = Number(m[1]);
      if (cost < 4 || cost > MAX_BCRYPT_COST) return `cost ${cost} outside 4..${MAX_BCRYPT_COST}`;
      return undefined;
    }
    case 'ARGON2ID':
    case 'ARGON2I': {
      const m = /^\$argon2i?d?\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(hash);
      if (!m) return 'expected $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>';
      const [v, mem, t, p] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
      if (v !== 19 && v !== 16) return `version ${v} unknown (16 or 19)`;
      if (p < 1 || p > MAX_ARGON2_PARALLELISM) return `parallelism ${p} outside 1..${MAX_ARGON2_PARALLELISM}`;
      if (t < 1 || t > MAX_ARGON2_TIME) return `time cost ${t} outside 1..${MAX_ARGON2_TIME}`;
      if (mem < 8 * p || mem > MAX_ARGON2_MEMORY_KIB) return `memory ${mem} KiB outside ${8 * p}..${MAX_ARGON2_MEMORY_KIB}`;
      if (!STD_B64_NOPAD.test(m[5]) || !STD_B64_NOPAD.test(m[6])) return 'salt and hash must be unpadded base64';
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------
// SHA-crypt ("Unix crypt using SHA-256 and SHA-512", Ulrich Drepper, 2007-2008;
// glibc's $5$ and $6$). Implemented from the published algorithm with node:crypto.

interface ShaCryptParams {
  rounds: number;
  /** `rounds=` was written in the setting (it is then repeated in the output). */
  customRounds: boolean;
  salt: string;
  expected?: string;
}

function parseShaCrypt(hash: string): ShaCryptParams | string {
  let rest = hash.slice(3);
  let rounds = SHA_CRYPT_DEFAULT_ROUNDS;
  let customRounds = false;
  const r = /^rounds=(\d{1,10})\$/.exec(rest);
  if (r) {
    // glibc raises values below the minimum; the output then names the raised value.
    rounds = Math.max(SHA_CRYPT_MIN_ROUNDS, Number(r[1]));
    if (rounds > MAX_SHA_CRYPT_ROUNDS) return `rounds ${r[1]} above ${MAX_SHA_CRYPT_ROUNDS}`;
    customRounds = true;
    rest = rest.slice(r[0].length);
  }
  const dollar = rest.indexOf('$');
  // The salt ends at the next `$` and is at most 16 characters (longer ones are cut, as glibc does).
  const salt = (dollar < 0 ? rest : rest.slice(0, dollar)).slice(0, 16);
  if (salt.includes(':') || salt.includes('\n')) return 'salt holds a character crypt(3) never writes';
  return { rounds, customRounds, salt, ...(dollar < 0 ? {} : { expected: rest.slice(dollar + 1) }) };
}

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Byte order of the final encoding (glibc sha512-crypt.c / sha256-crypt.c). */
const ORDER_512: readonly (readonly [number, number, number])[] = Array.from({ length: 21 }, (_, k) => {
  const [x, y, z] = [k, k + 21, k + 42];
  return k % 3 === 0 ? ([x, y, z] as const) : k % 3 === 1 ? ([y, z, x] as const) : ([z, x, y] as const);
});
const ORDER_256: readonly (readonly [number, number, number])[] = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
];

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

/** `len` bytes of `block` repeated (the "sequences" P and S of the algorithm). */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/** The full crypt(3) string for `setting` (`$6$[rounds=N$]salt[$...]`). */
export function shaCrypt(password: string | Buffer, setting: string): string {
  const sha512 = setting.startsWith('$6$');
  if (!sha512 && !setting.startsWith('$5$')) throw new Error('not a SHA-crypt setting');
  const parsed = parseShaCrypt(setting);
  if (typeof parsed === 'string') throw new Error(parsed);
  const alg = sha512 ? 'sha512' : 'sha256';
  const size = sha512 ? 64 : 32;
  const P = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  const S = Buffer.from(parsed.salt, 'utf8');
  const H = () => createHash(alg);

  // Digest B = H(P S P); digest A = H(P S B-bytes-for-len(P) ...bits of len(P)...).
  const B = H().update(P).update(S).update(P).digest();
  const a = H().update(P).update(S);
  let n = P.length;
  for (; n > size; n -= size) a.update(B);
  a.update(B.subarray(0, n));
  for (let bits = P.length; bits > 0; bits >>>= 1) a.update(bits & 1 ? B : P);
  let C = a.digest();

  // DP: H(P repeated len(P) times) -> sequence P; DS: H(S repeated 16 + A[0] times) -> sequence S.
  const dp = H();
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);
  const ds = H();
  for (let i = 0; i < 16 + C[0]; i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);

  for (let i = 0; i < parsed.rounds; i++) {
    const c = H();
    c.update(i & 1 ? Pseq : C);
    if (i % 3 !== 0) c.update(Sseq);
    if (i % 7 !== 0) c.update(Pseq);
    c.update(i & 1 ? C : Pseq);
    C = c.digest();
  }

  let enc = '';
  if (sha512) {
    for (const [x, y, z] of ORDER_512) enc += b64From24(C[x], C[y], C[z], 4);
    enc += b64From24(0, 0, C[63], 2);
  } else {
    for (const [x, y, z] of ORDER_256) enc += b64From24(C[x], C[y], C[z], 4);
    enc += b64From24(0, C[31], C[30], 3);
  }
  return `${setting.slice(0, 3)}${parsed.customRounds ? `rounds=${parsed.rounds}$` : ''}${parsed.salt}$${enc}`;
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks a password against a parsed foreign hash. CPU-heavy (bcrypt and
 * Argon2 in JavaScript/WebAssembly, SHA-crypt's thousands of rounds): the
 * node runs it in a worker thread (./password-threads.ts), never on the
 * event loop that serves the sessions.
 */
export async function verifyForeign(password: string, h: ForeignHash): Promise<boolean> {
  switch (h.scheme) {
    case 'SHA512-CRYPT':
    case 'SHA256-CRYPT': {
      const p = parseShaCrypt(h.hash);
      if (typeof p === 'string' || p.expected === undefined) return false;
      const got = shaCrypt(password, h.hash);
      return equalStrings(got.slice(got.lastIndexOf('$') + 1), p.expected);
    }
    case 'BLF-CRYPT':
      // bcryptjs compares in constant time and reads $2a$, $2b$ and $2y$ alike.
      return bcryptCompare(password, h.hash);
    case 'ARGON2ID':
    case 'ARGON2I':
      return argon2Verify({ password, hash: h.hash });
  }
}
