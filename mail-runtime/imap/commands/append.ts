import { parseDateTime, parseFlagList, type ImapValue } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { recentClaims } from './recent';
import { AUTH_OR_SELECTED, defineCommand, noResult } from './types';

interface AppendArgs {
  folder: FolderName;
  flags: string[];
  date?: Date;
  message: Buffer;
}

/**
 * RFC 3501 §6.3.11 APPEND mailbox [flags] [date-time] literal, answered
 * with APPENDUID (RFC 4315 §3). The OK is sent only after the store has made
 * the message durable (the store resolves append() after fsync).
 */
export const APPEND = defineCommand({
  name: 'APPEND',
  states: AUTH_OR_SELECTED,
  parse(args) {
    if (args.length < 2 || args.length > 4) return fail<AppendArgs>('APPEND needs a mailbox and a message literal');
    const folder = folderArg(args[0]);
    if (!folder.ok) return folder;
    const last: ImapValue = args[args.length - 1];
    if (last.type !== 'string' || last.form === 'quoted') return fail('The message must be a literal');
    let flags: string[] = [];
    let date: Date | undefined;
    for (const v of args.slice(1, -1)) {
      if (v.type === 'list') {
        if (flags.length || date) return fail('Invalid APPEND arguments');
        const f = parseFlagList(v);
        if (!f.ok) return f;
        flags = f.value;
      } else if (v.type === 'string' && v.form === 'quoted') {
        if (date) return fail('Invalid APPEND arguments');
        const d = parseDateTime(v);
        if (!d) return fail('Invalid date-time');
        date = d.date;
      } else {
        return fail('Invalid APPEND arguments');
      }
    }
    return ok<AppendArgs>({ folder: folder.value, flags, date, message: last.bytes });
  },
  async handle(ctx, a) {
    if (a.message.length === 0) return noResult('Empty message', { name: 'CANNOT' });
    // The literal check refuses a synchronising literal before it is sent;
    // a LITERAL+ one (RFC 7888) is only refused here, once it has arrived.
    const max = ctx.services.limits.maxMessageBytes;
    if (a.message.length > max) return noResult(`Message too big (max ${max} octets)`, { name: 'TOOBIG' });
    let folder;
    try {
      folder = await ctx.mailbox!.openFolder(a.folder.store);
    } catch (err) {
      // RFC 3501 §6.3.11: TRYCREATE when the target does not exist.
      const mapped = storeErrorResult(err, { NONEXISTENT: 'TRYCREATE' });
      if (mapped) return mapped;
      throw err;
    }
    try {
      recentClaims(ctx, folder); // first look before the message arrives: it is recent for the next SELECT (RFC 3501 §2.3.2)
      const res = await folder.append(a.message, { flags: a.flags, ...(a.date ? { internalDate: a.date } : {}) });
      return {
        status: 'OK' as const,
        code: { name: 'APPENDUID', args: [{ t: 'number', v: res.uidValidity } as const, { t: 'number', v: res.uid } as const] },
        text: 'APPEND completed',
      };
    } catch (err) {
      const mapped = storeErrorResult(err);
      if (mapped) return mapped;
      throw err;
    } finally {
      await folder.close();
    }
  },
});
