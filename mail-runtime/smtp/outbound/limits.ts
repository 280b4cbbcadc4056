/**
 * Fixed limits of the outbound SMTP client and its policy lookups, each with
 * the RFC that motivates it. Operator-tunable ones (concurrency, recipients
 * per transaction, retries) are RuntimeConfig `outbound` instead.
 */
export const OUTBOUND_LIMITS = {
  /** Time to open a TCP connection to one address before trying the next. */
  connectTimeoutMs: 30_000,
  /** RFC 5321 §4.5.3.2.1: wait at least 5 minutes for the 220 greeting. */
  greetingTimeoutMs: 5 * 60_000,
  /** RFC 5321 §4.5.3.2.2/3: 5 minutes for MAIL and each RCPT (and EHLO, STARTTLS, RSET alike). */
  commandTimeoutMs: 5 * 60_000,
  /** RFC 5321 §4.5.3.2.4: 2 minutes for the 354 after DATA. */
  dataInitTimeoutMs: 2 * 60_000,
  /** RFC 5321 §4.5.3.2.6: 10 minutes for the reply after the final dot (the server may be scanning). */
  dataTermTimeoutMs: 10 * 60_000,
  /** A TLS handshake that does not finish in this time counts as failed. */
  tlsHandshakeTimeoutMs: 60_000,
  /**
   * Longest reply line we read. RFC 5321 §4.5.3.1.5 caps a reply line at 512
   * octets; real servers exceed it a little, a hostile one could stream
   * forever, so beyond this the session is dropped.
   */
  replyLineBytes: 4096,
  /** Lines of one multi-line reply (an EHLO lists a few dozen at most). */
  replyLines: 100,
  /** Reply text kept for results, logs and DSNs (hostile servers write novels). */
  replyTextChars: 512,
  /**
   * Addresses tried per destination in one attempt, over all its MX hosts.
   * RFC 5321 §5.1 asks for at least two; Postfix's smtp_mx_address_limit is 5.
   */
  addressesPerAttempt: 5,
  /** MX hosts considered per domain (RFC 5321 §5.1 leaves the bound to us). */
  mxHosts: 10,
  /** RFC 8461 §3.3: policy bodies are bounded (64 KiB) and fetched with a timeout. */
  mtaStsPolicyBytes: 64 * 1024,
  mtaStsFetchTimeoutMs: 60_000,
  /** RFC 8461 §3.2: max_age is at most 31557600 seconds (one year). */
  mtaStsMaxAgeSeconds: 31_557_600,
  /** MTA-STS policies kept in memory (one per recipient domain, oldest dropped first). */
  mtaStsCacheEntries: 10_000,
  /** One DNS query over UDP or TCP to the DANE resolver, and how often it is sent before the server counts as unreachable. */
  dnsQueryTimeoutMs: 5_000,
  dnsQueryTries: 2,
  /** RFC 6891 §6.2.5: a 1232-octet EDNS buffer avoids fragmentation (DNS flag day 2020). */
  dnsUdpPayloadBytes: 1232,
  /**
   * A DSN returns the whole original message only up to this size, its
   * headers beyond (RFC 3461 §4.3 lets the MTA truncate; returning huge
   * messages doubles the traffic of every bounce).
   */
  dsnReturnBytes: 1024 * 1024,
} as const;
