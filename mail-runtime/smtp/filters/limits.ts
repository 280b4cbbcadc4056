/**
 * Wire limits of the filter clients, each with the reason it exists. What an
 * operator may change (timeouts, scores, clamd's stream cap) is RuntimeConfig
 * `filters`, with its one default in mail-runtime/config/schema.ts.
 */
export const FILTER_LIMITS = {
  /**
   * RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the
   * code and CRLF. Text that a peer (a milter's REPLYCODE, a clamd signature
   * name) puts into our SMTP reply is cut to leave room for code and status.
   */
  replyTextBytes: 400,
  /** clamd INSTREAM chunk (clamd reads chunks of any size up to StreamMaxLength; 64 KiB keeps writes small). */
  clamdChunkBytes: 64 * 1024,
  /** clamd answers one line (`stream: <name> FOUND`); anything longer is not clamd. */
  clamdReplyBytes: 4096,
  /**
   * Largest spamd/rspamd reply we read. A scanner reply is a few headers and a
   * JSON object of symbols; rspamd's symbol list for a hostile message with
   * thousands of URLs stays far below this.
   */
  spamReplyBytes: 1024 * 1024,
  /**
   * Milter body chunk: libmilter's MILTER_CHUNK_SIZE (mfdef.h), the largest
   * SMFIC_BODY a milter accepts unless it negotiated SMFIP_MDS_256K/1M, which
   * we do not offer.
   */
  milterChunkBytes: 65_535,
  /**
   * Largest milter packet we accept from a peer. libmilter refuses packets
   * above its MILTER_MAX_DATA_SIZE (64 KiB by default, 1 MiB with
   * SMFIP_MDS_1M); a reply is a header or a reply line, so 1 MiB bounds a
   * hostile or broken peer without refusing any real one.
   */
  milterPacketBytes: 1024 * 1024,
  /** Header edits one milter may ask for in one message (a runaway milter cannot bloat the message). */
  milterHeaderEdits: 1000,
} as const;
