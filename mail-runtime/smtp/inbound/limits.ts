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
} as const;
