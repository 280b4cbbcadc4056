import { reply } from '../common';

/** Submission replies (RFC 6409, RFC 4954 §6 for AUTH). */
export const SUBMISSION_REPLIES = {
  /** RFC 4954 §6: 530 5.7.0 before MAIL without AUTH (smtp-server sends it; the text is ours). */
  authRequired: reply(530, '5.7.0', 'Authentication required'),
  /** RFC 4954 §6: the mechanism needs an encrypted connection (plaintextAuth policy). */
  encryptionRequired: reply(538, '5.7.11', 'Encryption required for requested authentication mechanism, use STARTTLS'),
  /** RFC 4954 §6. */
  badCredentials: reply(535, '5.7.8', 'Authentication credentials invalid'),
  /** RFC 4954 §6: the directory is away, or too many failures (the limiter): try later. */
  authUnavailable: reply(454, '4.7.0', 'Temporary authentication failure, try again later'),
  /** RFC 6409 §6.1: the envelope sender must be the user's own address or an alias. */
  senderNotOwned: (sender: string, user: string) => reply(553, '5.7.1', `Sender address <${sender}> is not owned by user ${user}`),
  nullSender: reply(553, '5.7.1', 'The null sender <> is not allowed on submission'),
  /** RFC 6409 §6.3: the From field must name the user's own addresses. */
  fromNotOwned: (from: string, user: string) => reply(550, '5.7.1', `From: address <${from}> is not owned by user ${user}`),
  /** RFC 5322 §3.6: exactly one From field, with at least one address. */
  badFrom: reply(550, '5.6.0', 'The message needs exactly one From: header field with an address (RFC 5322 section 3.6)'),
  unknownUser: reply(550, '5.1.1', 'No such user here'),
  /** RFC 3463 X.3.5 system incorrectly configured: this node has no queue to hand outside mail to. */
  noQueue: reply(451, '4.3.5', 'Outbound queue not available on this node, try again later'),
} as const;
