import { LIMITS } from '../../common/limits';
import { decodeModifiedUtf7, encodeModifiedUtf7, isStoreError } from '../../store';
import { parseMailboxName, type ImapValue, type ParseResult } from '../protocol';
import type { ParseOptions } from './types';

export function ok<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: string): ParseResult<T> {
  return { ok: false, error };
}

/** Well-formed but over an implementation limit: the dispatcher answers `NO [LIMIT]` (RFC 5530 §3). */
export function overLimit<T = never>(error: string): ParseResult<T> {
  return { ok: false, error, limit: true };
}


/** Well-formed but impossible to carry out: the dispatcher answers `NO [CANNOT]` (RFC 5530 §3), not BAD. */
export function cannot<T = never>(error: string): ParseResult<T> {
  return { ok: false, error, refuse: 'CANNOT' };
}

/** For commands without arguments. */
export function noArgs(args: readonly ImapValue[]): ParseResult<undefined> {
  return args.length ? fail('No arguments expected') : ok(undefined);
}

export interface FolderName {
  /** As sent by the client (modified UTF-7, RFC 3501 §5.1.3, or UTF-8 after ENABLE IMAP4rev2), INBOX upper-cased. */
  imap: string;
  /** Decoded UTF-8 name for the store. */
  store: string;
}

/**
 * A mailbox-name argument: astring, modified UTF-7 decoded (RFC 3501 §5.1.3).
 * Validation of the path itself (.., NUL, depth) belongs to the store, which
 * refuses with BADNAME; here only the encoding is checked. A name that is a
 * valid astring but not valid modified UTF-7 (`bad&name`) makes a
 * well-formed command (RFC 3501 §9 `mailbox = "INBOX" / astring`): NO
 * [CANNOT], not BAD — no such mailbox can exist.
 */
export function folderArg(v: ImapValue | undefined, opts?: ParseOptions): ParseResult<FolderName> {
  const m = parseMailboxName(v);
  if (!m) return fail('Missing or invalid mailbox name');
  // No such folder can exist (the store's own bound is smaller): refuse before decoding.
  if (Buffer.byteLength(m.name) > LIMITS.imapMailboxNameBytes) return overLimit(`Mailbox name longer than ${LIMITS.imapMailboxNameBytes} octets`);
  if (m.isInbox) return ok({ imap: 'INBOX', store: 'INBOX' });
  if (opts?.utf8Names) {
    const store = utf8Name(m.name);
    if (store === undefined) return cannot('Mailbox name is not valid UTF-8');
    return ok({ imap: m.name, store: /^inbox\//i.test(store) ? `INBOX${store.slice(5)}` : store });
  }
  try {
    const store = decodeModifiedUtf7(m.name);
    // INBOX is case-insensitive also as the first hierarchy level (RFC 3501 §5.1).
    const fixed = /^inbox\//i.test(store) ? `INBOX${store.slice(5)}` : store;
    return ok({ imap: m.name, store: fixed });
  } catch (err) {
    if (isStoreError(err)) return cannot('Mailbox name is not valid modified UTF-7');
    throw err;
  }
}

/**
 * RFC 9051 §5.1: a UTF-8 name, in Unicode Normalization Form C (we accept a
 * denormalized one and use its NFC form, as §5.1 allows, in every command
 * alike). Undefined when the bytes were not UTF-8 (the decoder put U+FFFD).
 */
export function utf8Name(name: string): string | undefined {
  return name.includes('\uFFFD') ? undefined : name.normalize('NFC');
}

/** A store name as the client must see it: modified UTF-7, or UTF-8 after ENABLE IMAP4rev2 (RFC 9051 §5.1). */
export function imapName(storeName: string, opts?: ParseOptions): string {
  if (storeName === 'INBOX' || opts?.utf8Names) return storeName;
  return encodeModifiedUtf7(storeName);
}
