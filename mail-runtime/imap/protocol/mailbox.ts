/**
 * Mailbox name arguments (RFC 3501 §5.1, §9 `mailbox`, `list-mailbox`).
 * The name is returned raw (still modified UTF-7, RFC 3501 §5.1.3): decoding
 * and validation belong to the commands/store layers.
 */
import { asAstring, type ImapValue } from './values';

export interface MailboxArg {
  /** The name as sent, except that any case of `INBOX` becomes `INBOX`. */
  readonly name: string;
  readonly isInbox: boolean;
}

/** RFC 3501 §5.1: INBOX is case-insensitive. Other names are case-sensitive. */
export function parseMailboxName(v: ImapValue | undefined): MailboxArg | null {
  const raw = asAstring(v);
  if (raw === undefined) return null;
  const isInbox = raw.toUpperCase() === 'INBOX';
  return { name: isInbox ? 'INBOX' : raw, isInbox };
}

