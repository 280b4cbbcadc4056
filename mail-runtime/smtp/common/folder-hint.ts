import { fieldValue, fieldsNamed, parseHeader, withoutFields } from './message';

/**
 * How "deliver this to Junk" travels from a gateway to the node
 * (FilterResult.folder / QueuedRecipient.folder = 'junk').
 *
 * A header field, `X-Mailfleet-Folder: Junk`, that the gateway adds to the
 * message it delivers over LMTP, rather than an LMTP parameter, because:
 * - the gateway's LMTP client is nodemailer, which sends no custom MAIL/RCPT
 *   parameters, and an unregistered ESMTP keyword (RFC 5321 §4.1.2 says
 *   they need an `X` prefix and an EHLO keyword) buys nothing here;
 * - the hint is decided once per message at DATA and is stored with the
 *   queued message, so it survives a gateway restart without another field
 *   in QueueEntry.
 * It is per message, so the gateway delivers the recipients whose folder
 * differs in separate LMTP transactions.
 *
 * Trust: the node removes every such field from every message it receives,
 * on every listener, and honours it only on LMTP — the cluster-internal
 * listener only gateways can reach (network policy; LMTP has no
 * authentication, RFC 2033 §6 leaves it to the deployment). A gateway must
 * likewise remove the field from mail it receives from outside before its
 * filters decide, so no outside sender can pick a folder for a recipient.
 */
export const FOLDER_HINT_FIELD = 'X-Mailfleet-Folder';

/** The field a gateway adds for a Junk delivery, without line end. */
export const JUNK_HINT = `${FOLDER_HINT_FIELD}: Junk`;

export interface FolderHint {
  /** The message without any hint field. */
  message: Buffer;
  /** `junk` when a field said `Junk` (case-insensitive). */
  folder?: 'junk';
  /** Values of fields that named anything else (ignored; for the log line). */
  ignored: string[];
}

/** Removes every hint field and says what they asked for. */
export function takeFolderHint(raw: Buffer): FolderHint {
  const fields = fieldsNamed(parseHeader(raw), FOLDER_HINT_FIELD);
  if (!fields.length) return { message: raw, ignored: [] };
  const values = fields.map((f) => fieldValue(raw, f));
  const junk = values.some((v) => v.toLowerCase() === 'junk');
  return {
    message: withoutFields(raw, fields),
    ...(junk ? { folder: 'junk' as const } : {}),
    ignored: values.filter((v) => v.toLowerCase() !== 'junk'),
  };
}
