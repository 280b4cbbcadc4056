import { noArgs, fail, ok } from './args';
import { setArg, resolveUids, type SetArg } from './sets';
import { requireRights } from './shared';
import { SELECTED, defineCommand, noResult, okResult, type CommandResult, type SessionContext } from './types';
import { sendPaced } from './work';

async function expunge(ctx: SessionContext, uids: number[] | undefined): Promise<CommandResult> {
  const view = ctx.selected!;
  if (view.readOnly) return noResult('Mailbox is read-only', { name: 'READ-ONLY' });
  // RFC 4314 §4: EXPUNGE needs `e`.
  const denied = requireRights(view.rights, 'e', 'EXPUNGE');
  if (denied) return denied;
  if (uids && !uids.length) return okResult('EXPUNGE completed');
  await view.folder.expunge(uids);
  // Our own expunges are announced now, before the tagged OK (RFC 3501 §6.4.3).
  await sendPaced((r) => ctx.send(r), view.expungeNow());
  return okResult('EXPUNGE completed');
}

/** RFC 3501 §6.4.3 EXPUNGE: removes every \Deleted message. */
export const EXPUNGE = defineCommand({
  name: 'EXPUNGE',
  states: SELECTED,
  parse: noArgs,
  handle: (ctx) => expunge(ctx, undefined),
});

/** RFC 4315 §2.1 UID EXPUNGE: only the \Deleted messages among the given UIDs. */
export const UID_EXPUNGE = defineCommand({
  name: 'UID EXPUNGE',
  states: SELECTED,
  parse(args) {
    if (args.length !== 1) return fail<SetArg>('UID EXPUNGE needs a UID set');
    const s = setArg(args[0]);
    return s.ok ? ok(s.value) : s;
  },
  handle: (ctx, set) => expunge(ctx, resolveUids(ctx.selected!, set, true)),
});
