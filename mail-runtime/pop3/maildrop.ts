import type { DirectoryUser } from '../auth';

/**
 * What POP3 needs from the store, nothing more: the INBOX as a numbered list
 * fixed at login (RFC 1939 §4: numbers do not change during a session),
 * message bytes, and an expunge for the UPDATE state.
 */
export interface Pop3Message {
  /** Store UID in INBOX. */
  uid: number;
  /** Size in octets (RFC 1939 §5 counts the message as it will be sent, with CRLF). */
  size: number;
  /** Persistent unique id for UIDL: 1..70 characters 0x21..0x7E (RFC 1939 §7). */
  uniqueId: string;
}

export interface Pop3Maildrop {
  list(): Promise<Pop3Message[]>;
  read(uid: number): Promise<Buffer>;
  /** Removes the given messages durably; resolves to the UIDs actually removed. */
  expunge(uids: number[]): Promise<number[]>;
  /** Releases the mailbox (end of session). */
  close(): Promise<void>;
}

export interface Pop3Backend {
  /** Opens and locks the maildrop; throws MaildropInUseError while another session holds it. */
  openMaildrop(user: DirectoryUser): Promise<Pop3Maildrop>;
}

/**
 * RFC 1939 §4: after authentication the server "acquires an exclusive-access
 * lock on the maildrop"; a second POP3 session for the same maildrop is
 * refused (RFC 2449 §8.1.2 `[IN-USE]`) until the first one ends.
 */
export class MaildropInUseError extends Error {
  constructor(address: string) {
    super(`maildrop of ${address} is locked by another POP3 session`);
    this.name = 'MaildropInUseError';
  }
}
