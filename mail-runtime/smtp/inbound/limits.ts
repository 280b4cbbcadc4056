import { LIMITS } from '../../common/limits';

/**
 * The inbound MX's protocol limits that are not operator settings (those are
 * RuntimeConfig `inbound` and `limits`, with their defaults in the schema).
 */
export const INBOUND_LIMITS = {
  /**
   * Longest command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512 octets
   * and lets extensions add to it: SIZE (RFC 1870 §3: 26), BODY and
   * SMTPUTF8 parameters, DSN's ENVID/ORCPT (RFC 3461 §5: up to 500 on one
   * RCPT), internationalised addresses (RFC 6531). 4 × 512 covers them all
   * with room (Postfix's line_length_limit is 2048 too); longer is refused
   * with 421 and the connection closed, not buffered.
   */
  commandLineBytes: 4 * LIMITS.smtpCommandLineBytes,
  /**
   * Longest line of message text, CRLF included. RFC 5321 §4.5.3.1.6 says
   * 1000, but real mail breaks it (HTML on one line); we refuse only lines
   * longer than LIMITS.smtpTextLineBytes, which no mail program writes: the
   * message gets 554 5.6.0 (data.ts) and the session goes on.
   */
  textLineBytes: LIMITS.smtpTextLineBytes,
  /**
   * Connections from one client address (IPv6: its /64) at once, until the
   * shared per-address bound of issue 9 (`limits.maxConnectionsPerAddress`
   * in net/) replaces this admission hook. An MTA opens a handful per
   * destination (Postfix: default_destination_concurrency_limit 20).
   */
  connectionsPerAddress: 20,
  /** A refused connection gets its 421 and our FIN; a client that neither reads nor closes loses the socket after this. */
  refusalLingerMs: 5000,
} as const;
