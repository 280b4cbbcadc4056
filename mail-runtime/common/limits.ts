/**
 * Protocol limits, in one place, each with the reason it exists.
 *
 * Change a number here, not at its use: tests and the proxy import the same
 * constants so every role agrees on them. Limits an operator may change
 * (message size, literal size, connections, login timeout and failures,
 * password checks) are RuntimeConfig `limits`
 * instead, with their defaults in mail-runtime/config/schema.ts.
 */
export const LIMITS = {
  /**
   * Longest IMAP command line without its literals. RFC 7162 §4 asks clients
   * to keep lines under 8192 octets and servers to accept at least that.
   */
  imapLineBytes: 65_536,
  /** Largest literal a client may send as LITERAL+ / LITERAL- without waiting (RFC 7888 §4: LITERAL- caps at 4096). */
  imapNonSyncLiteralBytes: 4096,
  /** Bad commands in a row before we say BYE (keeps a confused or hostile client from spinning). */
  imapBadCommandsBeforeBye: 10,
  /** RFC 3501 §5.4: an inactivity autologout timer must be at least 30 minutes. */
  imapIdleTimeoutMs: 30 * 60 * 1000,
  /** RFC 1939 §3: a POP3 inactivity autologout timer must be at least 10 minutes. */
  pop3IdleTimeoutMs: 10 * 60 * 1000,
  /** RFC 2449 §4: POP3 command lines are at most 255 octets; we allow SASL blobs up to this. */
  pop3LineBytes: 8192,
  /** RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF. */
  smtpCommandLineBytes: 512,
  /** RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF (we are lenient up to this). */
  smtpTextLineBytes: 64 * 1024,
  /** Folder names: depth and length bounds keep paths inside PATH_MAX on every filesystem. */
  folderNameBytes: 255,
  folderDepth: 16,
} as const;

export type Limits = typeof LIMITS;
