import { formatSequenceSet, parseDateTime, parseFlagList, type ImapValue, type ResponseCode } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { recentClaims } from './recent';
import { allowedFlags } from './rights';
import { requireRights, resolveMailbox } from './shared';
import { AUTH_OR_SELECTED, defineCommand, noResult } from './types';

/** One message of the command: `[flag-list] [date-time] literal` (RFC 3502 §6.3.11 `append-message`). */
interface AppendMessage {
  flags: string[];
  date?: Date;
  message: Buffer;
}

interface AppendArgs {
  folder: FolderName;
  messages: AppendMessage[];
}

/**
 * `1*(SP [flag-list] [date-time] literal)` after the mailbox (RFC 3502 §6.3.11
 * extends RFC 3501's single message to one or more). The date-time is a
 * quoted string and the message a literal (RFC 3501 §9), so the groups can
 * be told apart without look-ahead.
 */
function parseMessages(rest: readonly ImapValue[]): { ok: true; value: AppendMessage[] } | { ok: false; error: string } {
  const out: AppendMessage[] = [];
  let flags: string[] | undefined;
  let date: Date | undefined;
  for (const [i, v] of rest.entries()) {
    if (i === rest.length - 1 && !(v.type === 'string' && v.form !== 'quoted')) return fail('The message must be a literal');
    if (v.type === 'list') {
      if (flags || date) return fail('Invalid APPEND arguments');
      const f = parseFlagList(v);
      if (!f.ok) return f;
      flags = f.value;
    } else if (v.type === 'string' && v.form === 'quoted') {
      if (date) return fail('Invalid APPEND arguments');
      const d = parseDateTime(v);
      if (!d) return fail('Invalid date-time');
      date = d.date;
    } else if (v.type === 'string') {
      out.push({ flags: flags ?? [], ...(date ? { date } : {}), message: v.bytes });
      flags = undefined;
      date = undefined;
    } else {
      return fail('Invalid APPEND arguments');
    }
  }
  if (flags || date || out.length === 0) return fail('The message must be a literal');
  return ok(out);
}

/**
 * RFC 3501 §6.3.11 APPEND and RFC 3502 MULTIAPPEND: one or more messages,
 * appended all or none (RFC 3502 §6.3.11: "If the server returns NO, none
 * of the messages are appended"), answered with APPENDUID (RFC 4315 §3; a
 * UID set for several messages). The OK is sent only after the store has
 * made every message durable (one group commit for the batch).
 *
 * Bounds: each message at most `maxMessageBytes` (NO [TOOBIG]); all of
 * them together at most `imapLiteralBytes` (the reader's cap on the
 * literals of one command); at most `imapAppendMessages` messages (NO
 * [LIMIT], RFC 5530; synchronising literals are refused before they are
 * sent, see session.ts checkLiteral, LITERAL+ ones here).
 */
export const APPEND = defineCommand({
  name: 'APPEND',
  states: AUTH_OR_SELECTED,
  parse(args, _cmd, opts) {
    if (args.length < 2) return fail<AppendArgs>('APPEND needs a mailbox and a message literal');
    const folder = folderArg(args[0], opts);
    if (!folder.ok) return folder;
    const messages = parseMessages(args.slice(1));
    if (!messages.ok) return messages;
    return ok<AppendArgs>({ folder: folder.value, messages: messages.value });
  },
  async handle(ctx, a) {
    const most = ctx.services.limits.imapAppendMessages;
    if (a.messages.length > most) return noResult(`Too many messages in one APPEND (max ${most})`, { name: 'LIMIT' });
    // The literal check refuses a synchronising literal before it is sent;
    // a LITERAL+ one (RFC 7888) is only refused here, once it has arrived.
    const max = ctx.services.limits.maxMessageBytes;
    for (const m of a.messages) {
      if (m.message.length === 0) return noResult('Empty message', { name: 'CANNOT' });
      if (m.message.length > max) return noResult(`Message too big (max ${max} octets)`, { name: 'TOOBIG' });
    }
    // RFC 4314 §4: APPEND needs `i`; flags the user may not set are dropped (s: \Seen, t: \Deleted, w: the rest).
    const target = await resolveMailbox(ctx, a.folder.store);
    if (!target.ok) return target.result;
    const denied = requireRights(target.value.rights, 'i', 'APPEND');
    if (denied) return denied;
    const rights = target.value.rights;
    let folder;
    try {
      folder = await target.value.mailbox.openFolder(target.value.name);
    } catch (err) {
      // RFC 3501 §6.3.11: TRYCREATE when the target does not exist.
      const mapped = storeErrorResult(err, { NONEXISTENT: 'TRYCREATE' });
      if (mapped) return mapped;
      throw err;
    }
    try {
      recentClaims(ctx, folder); // first look before the messages arrive: they are recent for the next SELECT (RFC 3501 §2.3.2)
      const res = await folder.appendMany(a.messages.map((m) => ({ raw: m.message, opts: { flags: allowedFlags(m.flags, rights), ...(m.date ? { internalDate: m.date } : {}) } })));
      return { status: 'OK' as const, code: appendUid(res.uidValidity, res.uids), text: 'APPEND completed' };
    } catch (err) {
      const mapped = storeErrorResult(err);
      if (mapped) return mapped;
      throw err;
    } finally {
      await folder.close();
    }
  },
});

/** RFC 4315 §3 `resp-code-apnd = "APPENDUID" SP nz-number SP append-uid`; append-uid is a uid-set only for MULTIAPPEND. */
function appendUid(uidValidity: number, uids: readonly number[]): ResponseCode {
  const set = uids.length === 1 ? { t: 'number' as const, v: uids[0] } : { t: 'atom' as const, v: formatSequenceSet(uids) };
  return { name: 'APPENDUID', args: [{ t: 'number', v: uidValidity }, set] };
}
