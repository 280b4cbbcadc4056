import type { FlagOperation } from '../../store';
import { formatSequenceSet, parseStoreArgs, type StoreRequest } from '../protocol';
import { fail, ok } from './args';
import { rightForFlag } from './rights';
import { resolveUids, setArg, type SetArg } from './sets';
import { requireRights } from './shared';
import { SELECTED, defineCommand, noResult, okResult, type CommandSpec } from './types';
import { flagsFetch } from './view';
import { CommandWork } from './work';

const OPS: Record<StoreRequest['op'], FlagOperation> = { set: 'replace', add: 'add', remove: 'remove' };

/**
 * RFC 3501 §6.4.6 STORE, with UNCHANGEDSINCE and MODIFIED (RFC 7162 §3.1.3).
 * The untagged FETCH shows the flags after the change (unless .SILENT); it
 * carries UID for UID STORE and MODSEQ once CONDSTORE is enabled. A keyword
 * new to the mailbox makes FLAGS and PERMANENTFLAGS go first, .SILENT or not
 * (RFC 3501 §7.2.6).
 */
function storeCommand(uid: boolean): CommandSpec<{ set: SetArg; req: StoreRequest }> {
  return defineCommand({
    name: uid ? 'UID STORE' : 'STORE',
    states: SELECTED,
    holdExpunges: !uid,
    parse(args) {
      if (args.length < 3) return fail('STORE needs a set, an item and flags');
      const set = setArg(args[0]);
      if (!set.ok) return set;
      const req = parseStoreArgs(args.slice(1));
      if (!req.ok) return req;
      return ok({ set: set.value, req: req.value });
    },
    async handle(ctx, { set, req }) {
      const view = ctx.selected!;
      if (view.readOnly) return noResult('Mailbox is read-only', { name: 'READ-ONLY' });
      // RFC 4314 §4: \Seen needs `s`, \Deleted `t`, other flags `w`; FLAGS (replace) may change them all.
      const needed = req.op === 'set' ? 'stw' : [...new Set(req.flags.map(rightForFlag))].join('');
      const denied = requireRights(view.rights, needed, 'STORE of these flags');
      if (denied) return denied;
      if (req.unchangedSince !== undefined) ctx.enabled.add('CONDSTORE');
      const uids = resolveUids(view, set, uid);
      if (!uids.length) return okResult('STORE completed');
      const unchangedSince = req.unchangedSince === undefined ? undefined : Number(req.unchangedSince);
      // A keyword the mailbox already has keeps its spelling; a new one is announced before any FETCH shows it (RFC 3501 §7.2.6).
      const flags = req.op === 'remove' ? req.flags : view.spellKeywords(req.flags);
      // .SILENT hides our own change, not what other sessions changed on these messages meanwhile.
      const pendingElsewhere = req.silent ? view.flagsPending(uids) : new Set<number>();
      const res = await view.folder.store(uids, OPS[req.op], flags, unchangedSince === undefined ? {} : { unchangedSince });
      if (req.op !== 'remove') for (const r of view.keywordUpdate([flags])) ctx.send(r);
      const failed = new Set(res.failedUnchangedSince);
      const condstore = ctx.enabled.has('CONDSTORE');
      if (!req.silent || condstore) {
        const changed = new Set(res.changed.map((m) => m.uid));
        const work = new CommandWork();
        for (const { seq, meta } of view.metas(uids)) {
          if (failed.has(meta.uid)) continue;
          // RFC 7162 §3.1.3: with .SILENT, still report MODSEQ of changed messages.
          if (req.silent && !changed.has(meta.uid)) continue;
          // Keywords another session set meanwhile are listed before they show (RFC 3501 §7.2.6).
          for (const r of view.keywordUpdate([meta.flags])) ctx.send(r);
          ctx.send(flagsFetch(seq, view.flagsOf(meta), meta, { uid, modseq: condstore }));
          if (work.due()) await work.pause();
        }
      }
      view.ackFlags(uids.filter((u) => !failed.has(u) && !pendingElsewhere.has(u)));
      if (failed.size) {
        const nums = uid ? [...failed].sort((a, b) => a - b) : [...failed].map((u) => view.seqOf(u)).filter(Boolean).sort((a, b) => a - b);
        return okResult('Conditional STORE failed for some messages', { name: 'MODIFIED', args: [{ t: 'atom', v: formatSequenceSet(nums) }] });
      }
      return okResult('STORE completed');
    },
  });
}

export const STORE = storeCommand(false);
export const UID_STORE = storeCommand(true);
