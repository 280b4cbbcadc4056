import type { Folder } from '../../store';
import { asAtom, atom, data, list, num, str, type ImapResponse, type ImapValue, type ParseResult, type ResponseValue } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { mailboxId, objectIdValue } from './objectid';
import { storeErrorResult } from './errors';
import { recentClaims } from './recent';
import { requireRights, resolveMailbox } from './shared';
import { AUTH_OR_SELECTED, defineCommand, okResult, type SessionContext } from './types';

const ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'HIGHESTMODSEQ', 'SIZE', 'MAILBOXID']);

/** A parenthesised list of STATUS data items (RFC 3501 §6.3.10, RFC 7162 §3.1.6); also LIST RETURN (STATUS (...)) (RFC 5819). */
export function parseStatusItems(v: ImapValue | undefined): ParseResult<string[]> {
  if (v?.type !== 'list') return fail('STATUS needs a list of items');
  const items: string[] = [];
  for (const item of v.items) {
    const n = asAtom(item, true);
    if (!n || !ITEMS.has(n)) return fail('Unknown STATUS item');
    if (!items.includes(n)) items.push(n);
  }
  if (!items.length) return fail('STATUS needs at least one item');
  return ok(items);
}

/** `* STATUS name (item value ...)` for an open folder. */
export function statusResponse(ctx: SessionContext, folder: Folder, imapName: string, items: readonly string[]): ImapResponse {
  const counts = folder.counts();
  const out: ResponseValue[] = [];
  for (const item of items) {
    if (item === 'MAILBOXID') {
      // RFC 8474 §4.3: `MAILBOXID (objectid)`.
      out.push(atom(item), objectIdValue(mailboxId(folder.owner, folder.uidValidity)));
      continue;
    }
    let value: number;
    switch (item) {
      case 'MESSAGES':
        value = counts.messages;
        break;
      case 'RECENT':
        // RFC 3501 §2.3.2: messages no session has been told about yet (see ../recent.ts).
        value = recentClaims(ctx, folder).countUnclaimed(folder);
        break;
      case 'UIDNEXT':
        value = folder.uidNext;
        break;
      case 'UIDVALIDITY':
        value = folder.uidValidity;
        break;
      case 'UNSEEN':
        value = counts.unseen;
        break;
      case 'DELETED':
        // RFC 9051 §6.3.11: the number of messages with \Deleted.
        value = counts.deleted;
        break;
      case 'SIZE':
        // RFC 8438 §2: the total of the RFC822.SIZE of the mailbox's messages, from the index (no body read).
        value = counts.bytes;
        break;
      default:
        value = folder.highestModseq;
        if (item === 'HIGHESTMODSEQ') ctx.enabled.add('CONDSTORE'); // RFC 7162 §3.1: a CONDSTORE-enabling command
    }
    out.push(atom(item), num(value));
  }
  return data(atom('STATUS'), str(imapName), list(out));
}

/** RFC 3501 §6.3.10 STATUS, plus HIGHESTMODSEQ (RFC 7162 §3.1.6), SIZE (RFC 8438) and MAILBOXID (RFC 8474 §4.3). */
export const STATUS = defineCommand({
  name: 'STATUS',
  states: AUTH_OR_SELECTED,
  parse(args, _cmd, opts) {
    if (args.length !== 2 || args[1].type !== 'list') return fail<{ folder: FolderName; items: string[] }>('STATUS needs a mailbox and a list of items');
    const folder = folderArg(args[0], opts);
    if (!folder.ok) return folder;
    const items = parseStatusItems(args[1]);
    if (!items.ok) return items;
    return ok({ folder: folder.value, items: items.value });
  },
  async handle(ctx, { folder, items }) {
    // RFC 4314 §4: STATUS needs `r`.
    const target = await resolveMailbox(ctx, folder.store);
    if (!target.ok) return target.result;
    const denied = requireRights(target.value.rights, 'r', 'STATUS');
    if (denied) return denied;
    let f;
    try {
      f = await target.value.mailbox.openFolder(target.value.name);
    } catch (err) {
      const mapped = storeErrorResult(err);
      if (mapped) return mapped;
      throw err;
    }
    try {
      ctx.send(statusResponse(ctx, f, folder.imap, items));
    } finally {
      await f.close();
    }
    return okResult('STATUS completed');
  },
});
