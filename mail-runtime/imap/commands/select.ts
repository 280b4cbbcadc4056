import { asAtom, atom, data, num, untagged } from '../protocol';
import { storeErrorResult } from './errors';
import { fail, folderArg, ok, type FolderName } from './args';
import { recentClaims } from './recent';
import { AUTH_OR_SELECTED, defineCommand, type CommandResult, type SessionContext } from './types';
import { MailboxView } from './view';

interface SelectArgs {
  folder: FolderName;
  condstore: boolean;
}

function parseSelect(args: readonly import('../protocol').ImapValue[]) {
  if (args.length < 1 || args.length > 2) return fail<SelectArgs>('Needs a mailbox name and optional parameters');
  const folder = folderArg(args[0]);
  if (!folder.ok) return folder;
  let condstore = false;
  if (args.length === 2) {
    // RFC 4466 select-params; RFC 7162 §3.1.8 (CONDSTORE).
    const p = args[1];
    if (p.type !== 'list') return fail<SelectArgs>('Invalid SELECT parameters');
    for (const item of p.items) {
      if (asAtom(item, true) !== 'CONDSTORE') return fail<SelectArgs>('Unsupported SELECT parameter');
      condstore = true;
    }
  }
  return ok<SelectArgs>({ folder: folder.value, condstore });
}

/**
 * RFC 3501 §6.3.1 SELECT / §6.3.2 EXAMINE. A failed SELECT leaves the
 * session in AUTHENTICATED with nothing selected (§6.3.1).
 */
async function selectFolder(ctx: SessionContext, a: SelectArgs, readOnly: boolean): Promise<CommandResult> {
  await ctx.unselect();
  const mb = ctx.mailbox;
  if (!mb) return { status: 'NO', text: 'No mailbox' };
  if (a.condstore) ctx.enabled.add('CONDSTORE');
  let folder;
  try {
    folder = await mb.openFolder(a.folder.store);
  } catch (err) {
    const mapped = storeErrorResult(err);
    if (mapped) return mapped;
    throw err;
  }
  // SELECT claims the messages nobody has seen yet as \Recent for this session; EXAMINE only looks,
  // and reports them as recent without claiming them (RFC 3501 §2.3.2, §6.3.2).
  const view = new MailboxView(folder, a.folder.imap, readOnly, () => ctx.mailboxChanged(), recentClaims(ctx, folder));
  const msgs = folder.messages();
  let firstUnseen = 0;
  for (let i = 0; i < msgs.length && !firstUnseen; i++) if (!msgs[i].flags.includes('\\Seen')) firstUnseen = i + 1;
  // FLAGS, then PERMANENTFLAGS: \* when clients may create new keywords (RFC 3501 §7.1, §7.2.6).
  for (const r of view.flagsAnnouncement()) ctx.send(r);
  ctx.send(data(num(view.count), atom('EXISTS')));
  ctx.send(data(num(view.recentCount), atom('RECENT')));
  if (firstUnseen) ctx.send(untagged('OK', 'First unseen', { name: 'UNSEEN', args: [num(firstUnseen)] }));
  ctx.send(untagged('OK', 'UIDs valid', { name: 'UIDVALIDITY', args: [num(folder.uidValidity)] }));
  ctx.send(untagged('OK', 'Predicted next UID', { name: 'UIDNEXT', args: [num(folder.uidNext)] }));
  // RFC 7162 §3.1.2.1: a CONDSTORE server sends HIGHESTMODSEQ on every SELECT/EXAMINE.
  ctx.send(untagged('OK', 'Highest', { name: 'HIGHESTMODSEQ', args: [num(folder.highestModseq)] }));
  ctx.select(view);
  return {
    status: 'OK',
    code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' },
    text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed`,
  };
}

export const SELECT = defineCommand({
  name: 'SELECT',
  states: AUTH_OR_SELECTED,
  parse: parseSelect,
  handle: (ctx, a) => selectFolder(ctx, a, false),
});

export const EXAMINE = defineCommand({
  name: 'EXAMINE',
  states: AUTH_OR_SELECTED,
  parse: parseSelect,
  handle: (ctx, a) => selectFolder(ctx, a, true),
});
