import { createHmac, randomBytes } from 'node:crypto';
import { monotonicMs } from '../common/clock';
import { normalizeAddress, type PasswordVerifier } from './types';

/**
 * Entries kept at most; beyond it the least recently used go first. At
 * ~150 bytes an entry this is ~1.5 MiB, and a node rarely has more
 * distinct users logging in within one TTL.
 */
export const CREDENTIAL_CACHE_MAX_ENTRIES = 10_000;

export interface CredentialCacheStats {
  /** Logins whose password check was answered from the cache (no hash computed). */
  hits: number;
  /** Checks that went to the password hash (not cached, expired, or a changed hash). */
  misses: number;
  entries: number;
}

/**
 * Verified credentials, remembered for a short time so a client that logs
 * in again and again (a phone polling, a mail client opening several
 * connections) does not pay the password hash each time — the role of
 * Dovecot's auth cache (auth_cache_size / auth_cache_ttl).
 *
 * What makes it safe:
 * - Only a successful check is stored; a wrong password always costs a
 *   full hash and is never remembered, good or bad.
 * - The key is HMAC-SHA-256 (per-process random key, never written
 *   anywhere) of the user, the stored hash the password matched and the
 *   password: memory holds no password and nothing an attacker who reads
 *   it could test guesses against offline without the key.
 * - The stored hash is part of the key: the directory is asked for the
 *   user's current hash on every login, so a password change (a new hash)
 *   misses at once, whatever the TTL. A disabled or deleted user is
 *   refused by the directory itself (it checks `enabled` after the
 *   password, and an unknown name never reaches `verify`).
 * - Entries expire after the TTL (config `limits.credentialCacheSeconds`)
 *   and the cache holds at most CREDENTIAL_CACHE_MAX_ENTRIES.
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  /** HMAC → expiry (monotonic ms); insertion order is recency order. */
  private readonly entries = new Map<string, number>();
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = CREDENTIAL_CACHE_MAX_ENTRIES,
  ) {}

  stats(): CredentialCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size };
  }

  /** `inner`'s checks for one login of `username`, answered from the cache when this user, hash and password were verified within the TTL. */
  verifier(username: string, inner: PasswordVerifier): PasswordVerifier {
    if (this.ttlMs <= 0) return inner;
    const user = normalizeAddress(username);
    return {
      verify: async (password, storedHash) => {
        const id = this.id(user, storedHash, password);
        const expires = this.entries.get(id);
        const now = monotonicMs();
        if (expires !== undefined) {
          this.entries.delete(id);
          if (expires > now) {
            this.entries.set(id, expires); // most recently used last
            this.hits++;
            return true;
          }
        }
        this.misses++;
        const ok = await inner.verify(password, storedHash);
        if (ok) this.remember(id, monotonicMs() + this.ttlMs);
        return ok;
      },
      unknownUser: (password) => inner.unknownUser(password),
    };
  }

  private id(user: string, storedHash: string, password: string): string {
    // NUL cannot occur in an address or a stored hash, so the parts cannot run into each other.
    return createHmac('sha256', this.key).update(user).update('\0').update(storedHash).update('\0').update(password, 'utf8').digest('base64');
  }

  private remember(id: string, expires: number): void {
    this.entries.delete(id);
    this.entries.set(id, expires);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
