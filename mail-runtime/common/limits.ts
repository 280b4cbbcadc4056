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
  /**
   * A mailbox name, LIST/LSUB reference or pattern, after login, quoted or
   * literal (RFC 3501 §5.1 sets no bound). The store refuses names over
   * `folderNameBytes` (255) UTF-8 bytes; in modified UTF-7 (RFC 3501 §5.1.3)
   * such a name takes at most about 2.5 times that, so 1 KiB refuses nothing
   * that could exist. A literal above it is refused before it is read.
   */
  imapMailboxNameBytes: 1024,
  /**
   * Any other string argument after login (SEARCH strings, ID values,
   * quota roots), quoted or literal. Only the APPEND message literal may be
   * bigger (config `limits.imapLiteralBytes` / `maxMessageBytes`). 8 KiB is
   * also the pre-login cap on credentials, and far above any header value a
   * client searches for (RFC 5322 §2.1.1: lines of at most 998 octets).
   */
  imapStringBytes: 8 * 1024,
  /**
   * A non-synchronising literal (RFC 7888) over its argument's cap is read
   * and dropped, the command refused and the session kept, when it is at
   * most this big (RFC 7888 §4, first choice: costs us no more than one
   * command line); a bigger one gets BYE and the connection is closed
   * unread (§4, second choice). Message literals keep the config cap.
   */
  imapDiscardLiteralBytes: 64 * 1024,
  /**
   * One AUTHENTICATE client response (RFC 3501 §6.2.2: a single line of
   * BASE64). SASL PLAIN (RFC 4616 §2) must carry identities and passwords of
   * 255 octets each, about 1 KiB in BASE64; 8 KiB leaves room for long
   * passwords. A longer line is refused with BAD and skipped to its end, so
   * the next line is read as a command again.
   */
  imapSaslLineBytes: 8 * 1024,
  /**
   * Ranges in one sequence set (RFC 3501 §9 `sequence-set`). Sets are
   * merged into sorted ranges and never expanded, so this bounds parsing,
   * not matching; it is above what fits on an RFC 7162 §4 8 KiB line.
   * Above it: NO [LIMIT] (RFC 5530).
   */
  imapSequenceSetRanges: 16_384,
  /** Search keys in one SEARCH (RFC 3501 §6.4.4), NOT/OR and parentheses included. Above it: NO [LIMIT]. */
  imapSearchKeys: 1000,
  /** Nesting of NOT, OR and parentheses in one SEARCH (each level is a recursion in parser and evaluator). Above it: NO [LIMIT]. */
  imapSearchDepth: 256,
  /**
   * Work one SEARCH may do, counted as it runs (units of about 100 ns of
   * CPU: one key looked at on one message, or decoding or scanning some
   * text; see imap/search/evaluate.ts): about 30 s of CPU here, enough for
   * a full-text search of a 5 GB folder without an index. Beyond it the
   * SEARCH stops with NO [LIMIT] (RFC 5530). Other sessions are served
   * meanwhile either way (imapWorkSliceMs); this bounds what one command
   * can take of a core.
   */
  imapSearchWorkUnits: 300_000_000,
  /** Patterns in one extended LIST (RFC 5258 §3); each is matched against every folder. Above it: NO [LIMIT]. */
  imapListPatterns: 64,
  /**
   * A command running through many messages or folders gives the event loop
   * back after this long, so other sessions' commands (a NOOP) are answered
   * in between (issue 9: one session must not stall the others).
   */
  imapWorkSliceMs: 10,
  /**
   * Searches one session keeps up to date (RFC 5267 §4.2 SEARCH/SORT
   * RETURN (UPDATE)); each runs again on every change to the mailbox, so
   * one more is answered `OK [NOUPDATE "tag"]` (§4.2 lets a server refuse).
   */
  imapContextUpdates: 5,
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

