/**
 * The directory interface every login goes through. The local users file
 * implements it today; the hub client implements the same interface later,
 * so IMAP/POP3/submission never know where users come from.
 */

/** Per-user storage limits. Absent fields mean "no limit". */
export interface Quota {
  /** Total bytes of all messages in all folders. */
  bytes?: number;
  /** Total number of messages in all folders. */
  messages?: number;
}

/** What a successful lookup or login yields. */
export interface DirectoryUser {
  /** Canonical address (lower-case), the mailbox owner's name in the store. */
  address: string;
  quota?: Quota;
}

/**
 * Local part of each domain's shared pseudo-owner: the mailbox that holds the
 * folders of the IMAP `Shared/` namespace (RFC 2342 "shared namespace"; NAMESPACE, §5),
 * which belong to no user. It is a dot-atom (the store and placement handle
 * it like any mailbox: one owner node, an epoch), but no directory holds it:
 * it cannot log in and the gateways find no recipient for it. The hub
 * refuses users and aliases with this local part.
 */
export const SHARED_OWNER_LOCAL_PART = '#shared';

/** The shared pseudo-owner of `domain` (lower-case). */
export function sharedOwnerOf(domain: string): string {
  return `${SHARED_OWNER_LOCAL_PART}@${domain.toLowerCase()}`;
}

/** Whether an address is a domain's shared pseudo-owner. */
export function isSharedOwner(address: string): boolean {
  return address.toLowerCase().startsWith(`${SHARED_OWNER_LOCAL_PART}@`);
}

/**
 * What an ACL identifier (RFC 4314 §2) names in the directory: one user
 * (`address` is her canonical address; an alias with one target user
 * resolves to her), several users (an alias with several targets, a
 * group: an ACL names one identity, so it is refused), or nothing known.
 * A domain's catch-all does not make an address known: it routes mail,
 * it names nobody.
 */
export type Identity = { kind: 'user'; address: string } | { kind: 'group'; targets: string[] } | { kind: 'unknown' };

/** Facts about the login attempt that a directory may use (rate limits, audit). */
export interface AuthContext {
  /** Remote IP address of the client. */
  ip: string;
  /** Which protocol asks ("imap", "pop3", "submission"). */
  protocol?: string;
  /**
   * The connection the attempt came on (the session's connection id):
   * failures are counted per connection, and past
   * `limits.loginFailuresPerConnection` the outcome says to hang up.
   */
  connectionId?: string;
  /**
   * How the directory checks the password: the Authenticator passes its
   * bounded, prioritised pool (PasswordCheckPool) for this attempt. Absent
   * (direct calls, tools): checked at once, unbounded.
   */
  passwords?: PasswordVerifier;
}

/** Password checks as a directory uses them. */
export interface PasswordVerifier {
  /** True when `password` matches the stored hash (`hashPassword` format). */
  verify(password: string, storedHash: string): Promise<boolean>;
  /**
   * For a name that does not exist: answers false after as long as a
   * `verify` would take, so response time does not tell which names exist.
   */
  unknownUser(password: string): Promise<false>;
}

export interface Directory {
  /**
   * Checks a password. Resolves to the user on success and `null` on any
   * failure (unknown user, wrong password, disabled account): callers must
   * not be able to tell which, so neither can an attacker.
   */
  authenticate(user: string, password: string, ctx: AuthContext): Promise<DirectoryUser | null>;
  /** Finds a user (or alias target) by address; `null` when unknown. */
  lookup(address: string): Promise<DirectoryUser | null>;
  /**
   * What an ACL identifier names (see Identity). Absent: `lookup` decides
   * (a one-to-one alias resolves to its user; anything else is unknown).
   */
  identify?(address: string): Promise<Identity>;
  /** Releases watchers/timers. */
  close?(): Promise<void>;
}

/**
 * Canonical form of an address for lookups: trimmed and lower-cased. The
 * local part is case-insensitive here by policy (RFC 5321 §2.4 allows a
 * server to treat it so, and every mainstream provider does).
 */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}
