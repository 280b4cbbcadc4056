import { asAtom, atom, data, list, num, str, type ResponseValue } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { AUTH_OR_SELECTED, defineCommand, okResult } from './types';

const ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ']);

/** RFC 3501 §6.3.10 STATUS, plus HIGHESTMODSEQ (RFC 7162 §3.1.6). */
export const STATUS = defineCommand({
  name: 'STATUS',
  states: AUTH_OR_SELECTED,
  parse(args) {
    if (args.length !== 2 || args[1].type !== 'list') return fail<{ folder: FolderName; items: string[] }>('STATUS needs a mailbox and a list of items');
    const folder = folderArg(args[0]);
    if (!folder.ok) return folder;
    const items: string[] = [];
    for (const v of args[1].items) {
      const n = asAtom(v, true);
      if (!n || !ITEMS.has(n)) return fail('Unknown STATUS item');
      if (!items.includes(n)) items.push(n);
    }
    if (!items.length) return fail('STATUS needs at least one item');
    return ok({ folder: folder.value, items });
  },
  async handle(ctx, { folder, items }) {
    let f;
    try {
      f = await ctx.mailbox!.openFolder(folder.store);
    } catch (err) {
      const mapped = storeErrorResult(err);
      if (mapped) return mapped;
      throw err;
    }
    try {
      const msgs = f.messages();
      const out: ResponseValue[] = [];
      for (const item of items) {
        let value: number;
        switch (item) {
          case 'MESSAGES':
            value = msgs.length;
            break;
          case 'RECENT':
            value = 0;
            break;
          case 'UIDNEXT':
            value = f.uidNext;
            break;
          case 'UIDVALIDITY':
            value = f.uidValidity;
            break;
          case 'UNSEEN':
            value = msgs.reduce((n, m) => (m.flags.includes('\\Seen') ? n : n + 1), 0);
            break;
          default:
            value = f.highestModseq;
            if (item === 'HIGHESTMODSEQ') ctx.enabled.add('CONDSTORE'); // RFC 7162 §3.1: a CONDSTORE-enabling command
        }
        out.push(atom(item), num(value));
      }
      ctx.send(data(atom('STATUS'), str(folder.imap), list(out)));
    } finally {
      await f.close();
    }
    return okResult('STATUS completed');
  },
});
