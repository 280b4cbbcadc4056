/**
 * SMTP/LMTP protocol bounds of the node's listeners, each with the RFC that
 * motivates it. Operator-tunable limits (message size, client connections)
 * are RuntimeConfig `limits` instead (mail-runtime/config/schema.ts).
 *
 * Note for the shared bounds of issue 9 (net/, auth/): when they land, the
 * login deadline and per-connection login failures below give way to
 * `limits.loginTimeoutSeconds` and the Authenticator's `disconnect`.
 */
export const SMTP_LIMITS = {
  /**
   * RFC 5321 §4.5.3.2.7: a server SHOULD wait at least 5 minutes for the
   * next command. Reset by every command; it does not run while we owe the
   * client a reply (a slow fsync is not the client's idleness).
   */
  idleTimeoutMs: 5 * 60 * 1000,
  /**
   * Command line bound for submission. RFC 5321 §4.5.3.1.4 says 512 octets,
   * and RFC 4954 §4 raises it to 12288 for AUTH lines (a SASL initial
   * response carrying a long password).
   */
  submissionCommandBytes: 12_288,
  /**
   * Command line bound for LMTP: 512 (RFC 5321 §4.5.3.1.4) plus the
   * parameters of the extensions we advertise (RFC 1869 §4.1.2 lets each
   * add up to 500; SIZE, BODY, SMTPUTF8).
   */
  lmtpCommandBytes: 2048,
  /**
   * Header fields one hop may add to a message on its way: the gateway's
   * Received, Authentication-Results, spam scores, ARC set and DKIM
   * signature; our Received, Return-Path, Date and Message-ID. Config
   * `limits.maxMessageBytes` is what a client may send (MX and submission
   * SIZE, IMAP APPEND); LMTP takes that plus one hop's additions, and the
   * store that plus two (the gateway's and LMTP's own), so a message
   * accepted at the edge at exactly the limit is never refused later as
   * too big.
   */
  hopHeaderBytes: 32 * 1024,
  /** RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients per message; more get 452 4.5.3. */
  maxRecipients: 100,
  /**
   * Commands before authentication on submission (EHLO, STARTTLS, NOOP…):
   * a client that does not log in goes after this many (smtp-server counts
   * them; AUTH itself is bounded by the Authenticator's limiter).
   */
  unauthenticatedCommands: 10,
  /** Failed AUTH attempts on one submission connection before we hang up (421 4.7.0). */
  authFailuresPerConnection: 3,
  /**
   * Open LMTP connections at once. LMTP is the gateways' delivery path, so
   * it has its own bound: a flood of IMAP/POP3/submission clients filling
   * `limits.maxConnections` must not stop mail from being delivered. A
   * gateway uses a handful of connections per node.
   */
  lmtpMaxConnections: 1000,
  /** On stop: transactions in flight get this long to finish before every session is told 421. */
  shutdownGraceMs: 10_000,
  /**
   * How long a submitted message handed to the queue may wait before it is
   * bounced: RFC 5321 §4.5.4.1 "give up … at least 4–5 days".
   */
  queueLifetimeMs: 5 * 24 * 3600 * 1000,
  /** Submission → owning node over LMTP: connect/greeting/reply bounds of the client. */
  lmtpClientTimeoutMs: 60 * 1000,
} as const;
