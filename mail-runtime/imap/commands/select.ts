import {
  asAtom,
  asBigNumber,
  asNumber,
  atom,
  data,
  num,
  sequenceSetMatcher,
  untagged,
  type ImapValue,
  type ParseResult,
} from '../protocol';
import { storeErrorResult } from './errors';
import { fail, folderArg, ok, type FolderName } from './args';
import { mailboxId, objectIdValue } from './objectid';
import { selectedListResponse } from './list';
import { recentClaims } from './recent';
import { requireRights, resolveMailbox } from './shared';
import { AUTH_OR_SELECTED, defineCommand, type CommandResult, type ParseOptions, type SessionContext } from './types';
import { setArg, type SetArg } from './sets';
import { vanishedEarlier } from './vanished';
import { flagsFetch, MailboxView } from './view';
import { sendPaced } from './work';

/** RFC 7162 §3.2.5 `(QRESYNC (uidvalidity modseq [known-uids [seq-match-data]]))`. */
interface QresyncParam {
  uidValidity: number;
  modseq: bigint;
  knownUids: (SetArg & { kind: 'set' }) | undefined;
}

interface SelectArgs {
  folder: FolderName;
  condstore: boolean;
  qresync?: QresyncParam;
}

function parseQresync(v: ImapValue | undefined): ParseResult<QresyncParam> {
  if (v?.type !== 'list' || v.items.length < 2 || v.items.length > 4) return fail('QRESYNC needs (uidvalidity modseq [known-uids [seq-match-data]])');
  const uidValidity = asNumber(v.items[0]);
  const modseq = asBigNumber(v.items[1]);
  if (uidValidity === undefined || uidValidity < 1 || uidValidity > 0xffffffff) return fail('QRESYNC needs a UIDVALIDITY');
  if (modseq === undefined || modseq < 1n) return fail('QRESYNC needs a mod-sequence');
  let knownUids: (SetArg & { kind: 'set' }) | undefined;
  if (v.items.length >= 3) {
    const s = setArg(v.items[2]);
    if (!s.ok) return s;
    // `$` is empty at SELECT (RFC 5182 §2.1: reset when a mailbox is selected), so it cannot name known UIDs.
    if (s.value.kind !== 'set') return fail('QRESYNC known-uids must be a UID set, not $');
    knownUids = s.value;
  }
  // seq-match-data `(seqs uids)` only helps a server that forgot expunges; ours reports from its record (vanished.ts).
  if (v.items.length === 4) {
    const m = v.items[3]!;
    if (m.type !== 'list' || m.items.length !== 2 || !setArg(m.items[0]).ok || !setArg(m.items[1]).ok) return fail('Invalid QRESYNC seq-match-data');
  }
  return ok({ uidValidity, modseq, knownUids });
}

function parseSelect(args: readonly ImapValue[], _cmd: unknown, opts: ParseOptions): ParseResult<SelectArgs> {
  if (args.length < 1 || args.length > 2) return fail<SelectArgs>('Needs a mailbox name and optional parameters');
  const folder = folderArg(args[0], opts);
  if (!folder.ok) return folder;
  let condstore = false;
  let qresync: QresyncParam | undefined;
  if (args.length === 2) {
    // RFC 4466 select-params; RFC 7162 §3.1.8 (CONDSTORE), §3.2.5 (QRESYNC).
    const p = args[1];
    if (p.type !== 'list') return fail<SelectArgs>('Invalid SELECT parameters');
    for (let i = 0; i < p.items.length; i++) {
      const name = asAtom(p.items[i], true);
      if (name === 'CONDSTORE') condstore = true;
      else if (name === 'QRESYNC') {
        const q = parseQresync(p.items[++i]);
        if (!q.ok) return q;
        qresync = q.value;
      } else return fail<SelectArgs>('Unsupported SELECT parameter');
    }
  }
  return ok<SelectArgs>(qresync ? { folder: folder.value, condstore, qresync } : { folder: folder.value, condstore });
}

/**
 * RFC 3501 §6.3.1 SELECT / §6.3.2 EXAMINE. A failed SELECT leaves the
 * session in AUTHENTICATED with nothing selected (§6.3.1).
 */
async function selectFolder(ctx: SessionContext, a: SelectArgs, examine: boolean): Promise<CommandResult> {
  let readOnly = examine;
  const qresyncOn = ctx.enabled.has('QRESYNC');
  const rev2 = ctx.enabled.has('IMAP4rev2');
  // RFC 7162 §3.2.5: the QRESYNC parameter without ENABLE QRESYNC is a BAD.
  if (a.qresync && !qresyncOn) return { status: 'BAD', text: 'QRESYNC parameter needs ENABLE QRESYNC first' };
  // RFC 7162 §3.2.11: [CLOSED] marks where the previous mailbox's responses end; IMAP4rev2 requires it always (RFC 9051 §6.3.2, Appendix E item 9).
  if (ctx.selected && (qresyncOn || rev2)) ctx.send(untagged('OK', 'Previous mailbox closed', { name: 'CLOSED' }));
  await ctx.unselect();
  if (!ctx.mailbox) return { status: 'NO', text: 'No mailbox' };
  if (a.condstore) ctx.enabled.add('CONDSTORE');
  // RFC 4314 §4: SELECT and EXAMINE need `r`.
  const target = await resolveMailbox(ctx, a.folder.store);
  if (!target.ok) return target.result;
  const denied = requireRights(target.value.rights, 'r', examine ? 'EXAMINE' : 'SELECT');
  if (denied) return denied;
  // RFC 4314 §4: read-only when none of the rights that change the mailbox's messages is held.
  if (!/[swte]/.test(target.value.rights)) readOnly = true;
  let folder;
  try {
    folder = await target.value.mailbox.openFolder(target.value.name);
  } catch (err) {
    const mapped = storeErrorResult(err);
    if (mapped) return mapped;
    throw err;
  }
  let listed;
  try {
    listed = rev2 ? await selectedListResponse(ctx, a.folder.store, a.folder.imap, target.value) : undefined;
  } catch (err) {
    await folder.close();
    throw err;
  }
  // SELECT claims the messages nobody has seen yet as \Recent for this session; EXAMINE only looks,
  // and reports them as recent without claiming them (RFC 3501 §2.3.2, §6.3.2).
  const view = new MailboxView(folder, a.folder.imap, readOnly, () => ctx.mailboxChanged(), recentClaims(ctx, folder));
  view.showRecent = !rev2;
  view.rights = target.value.rights;
  const msgs = folder.messages();
  // RFC 3501 §7.1 [UNSEEN n]: the first unseen message; the running count says whether there is one (no walk of an all-read folder).
  let firstUnseen = 0;
  if (!rev2 && folder.counts().unseen > 0) for (let i = 0; i < msgs.length && !firstUnseen; i++) if (!msgs[i].flags.includes('\\Seen')) firstUnseen = i + 1;
  // FLAGS, then PERMANENTFLAGS: \* when clients may create new keywords (RFC 3501 §7.1, §7.2.6).
  for (const r of view.flagsAnnouncement()) ctx.send(r);
  ctx.send(data(num(view.count), atom('EXISTS')));
  if (rev2) {
    // RFC 9051 §6.3.2: LIST is a required response; RECENT and the UNSEEN code are gone (Appendix E items 11, 12).
    if (listed) ctx.send(listed);
  } else {
    ctx.send(data(num(view.recentCount), atom('RECENT')));
    if (firstUnseen) ctx.send(untagged('OK', 'First unseen', { name: 'UNSEEN', args: [num(firstUnseen)] }));
  }
  ctx.send(untagged('OK', 'UIDs valid', { name: 'UIDVALIDITY', args: [num(folder.uidValidity)] }));
  ctx.send(untagged('OK', 'Predicted next UID', { name: 'UIDNEXT', args: [num(folder.uidNext)] }));
  // RFC 8474 §4.2: SELECT and EXAMINE report the mailbox's MAILBOXID.
  ctx.send(untagged('OK', 'Ok', { name: 'MAILBOXID', args: [objectIdValue(mailboxId(folder.owner, folder.uidValidity))] }));
  // RFC 7162 §3.1.2.1: a CONDSTORE server sends HIGHESTMODSEQ on every SELECT/EXAMINE.
  ctx.send(untagged('OK', 'Highest', { name: 'HIGHESTMODSEQ', args: [num(folder.highestModseq)] }));
  view.vanishedResponses = qresyncOn;
  const q = a.qresync;
  // RFC 7162 §3.2.5.1: with the client's UIDVALIDITY, what changed since its mod-sequence: expunges, then flag changes.
  if (q && q.uidValidity === folder.uidValidity && q.modseq < BigInt(folder.highestModseq)) {
    const since = Number(q.modseq);
    const vanished = vanishedEarlier(view, since, q.knownUids);
    if (vanished) ctx.send(vanished);
    const known = q.knownUids ? sequenceSetMatcher(q.knownUids, folder.uidNext - 1) : null;
    const changed = msgs.map((m, i) => ({ m, seq: i + 1 })).filter(({ m }) => m.modseq > since && (!known || known(m.uid)));
    await sendPaced(
      (r) => ctx.send(r),
      changed.map(({ m, seq }) => flagsFetch(seq, view.flagsOf(m), m, { uid: true, modseq: true })),
    );
  }
  ctx.select(view);
  return {
    status: 'OK',
    code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' },
    text: `${examine ? 'EXAMINE' : 'SELECT'} completed`,
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
