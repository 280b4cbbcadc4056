import { formatSequenceSet, untagged, type ResponseCode } from '../protocol';
import { fail, folderArg, ok, type FolderName } from './args';
import { storeErrorResult } from './errors';
import { recentClaims } from './recent';
import { resolveUids, setArg, type SetArg } from './sets';
import { requireRights, resolveMailbox } from './shared';
import { SELECTED, defineCommand, noResult, okResult, type CommandSpec } from './types';
import { sendPaced } from './work';
import type { CopyResult } from '../../store';

function copyuid(res: CopyResult): ResponseCode {
  return {
    name: 'COPYUID',
    args: [
      { t: 'number', v: res.uidValidity },
      { t: 'atom', v: formatSequenceSet(res.pairs.map((p) => p[0])) },
      { t: 'atom', v: formatSequenceSet(res.pairs.map((p) => p[1])) },
    ],
  };
}

/**
 * RFC 3501 §6.4.7 COPY with COPYUID (RFC 4315 §3) and RFC 6851 MOVE: for
 * MOVE the COPYUID goes in an untagged OK before the EXPUNGE responses
 * (RFC 6851 §4.3). The target may be the selected mailbox itself (RFC 6851
 * §3.1 does not forbid it): the copies are new messages with new UIDs,
 * announced with EXISTS like any new mail, and MOVE expunges the originals.
 */
function transferCommand(kind: 'COPY' | 'MOVE', uid: boolean): CommandSpec<{ set: SetArg; target: FolderName }> {
  return defineCommand({
    name: `${uid ? 'UID ' : ''}${kind}`,
    states: SELECTED,
    parse(args, _cmd, opts) {
      if (args.length !== 2) return fail(`${kind} needs a set and a mailbox name`);
      const set = setArg(args[0]);
      if (!set.ok) return set;
      const target = folderArg(args[1], opts);
      if (!target.ok) return target;
      return ok({ set: set.value, target: target.value });
    },
    async handle(ctx, { set, target }) {
      const view = ctx.selected!;
      if (kind === 'MOVE' && view.readOnly) return noResult('Mailbox is read-only', { name: 'READ-ONLY' });
      // RFC 4314 §4 (and RFC 6851 §3.3 for MOVE): MOVE takes `t` and `e` on the source.
      if (kind === 'MOVE') {
        const src = requireRights(view.rights, 'te', 'MOVE');
        if (src) return src;
      }
      const uids = resolveUids(view, set, uid);
      // RFC 4314 §4: COPY and MOVE need `i` on the target.
      const to = await resolveMailbox(ctx, target.store);
      if (!to.ok) return to.result;
      const denied = requireRights(to.value.rights, 'i', kind);
      if (denied) return denied;
      let dest;
      try {
        dest = await to.value.mailbox.openFolder(to.value.name);
      } catch (err) {
        const mapped = storeErrorResult(err, { NONEXISTENT: 'TRYCREATE' });
        if (mapped) return mapped;
        throw err;
      }
      try {
        if (!uids.length) return okResult(`${kind} completed`);
        recentClaims(ctx, dest); // copies are new arrivals in the target: recent for its next SELECT (RFC 3501 §2.3.2)
        if (kind === 'COPY') {
          const res = await view.folder.copy(uids, dest);
          return res.pairs.length ? okResult('COPY completed', copyuid(res)) : okResult('COPY completed');
        }
        const res = await view.folder.move(uids, dest);
        if (res.pairs.length) ctx.send(untagged('OK', 'Moved', copyuid(res)));
        await sendPaced((r) => ctx.send(r), view.expungeNow());
        return okResult('MOVE completed');
      } catch (err) {
        const mapped = storeErrorResult(err);
        if (mapped) return mapped;
        throw err;
      } finally {
        await dest.close();
      }
    },
  });
}

export const COPY = transferCommand('COPY', false);
export const UID_COPY = transferCommand('COPY', true);
export const MOVE = transferCommand('MOVE', false);
export const UID_MOVE = transferCommand('MOVE', true);
