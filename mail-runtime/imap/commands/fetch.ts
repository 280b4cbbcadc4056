import { isStoreError, type Folder, type MessageMeta } from '../../store';
import { analyzeMessage, isCurrentSummary, needsRawMessage, needsSummary, renderFetchItem, UnknownCteError, type MessageSummary } from '../message';
import {
  atom,
  data,
  fetchSetsSeen,
  formatDateTime,
  list,
  num,
  parseFetchArgs,
  str,
  type FetchAttribute,
  type FetchRequest,
  type ImapResponse,
  type ResponseValue,
} from '../protocol';
import { fail, ok } from './args';
import { emailIds, needsSubjectRoot, objectIdValue, subjectRoots, threadIds, type SubjectRoots } from './objectid';
import { BodyReadAhead } from './read-ahead';
import { resolveUids, setArg, type SetArg } from './sets';
import { SELECTED, badResult, defineCommand, noResult, okResult, type CommandSpec, type SessionContext } from './types';
import { vanishedEarlier } from './vanished';
import { CommandWork } from './work';

/**
 * FETCH responses are gathered and written together (one corked writev,
 * session.sendAll) once they hold about this many bytes, and before the
 * command waits for anything (a body not read yet, a pause for other
 * sessions, the end). After each write the command waits until the socket
 * has taken it (drain), so a slow reader holds at most this much queued in
 * the node besides the read-ahead (read-ahead.ts): it slows only itself.
 */
const FLUSH_BYTES = 256 * 1024;
/** What a FETCH response without a body is counted as, for FLUSH_BYTES. */
const SMALL_RESPONSE_BYTES = 256;

/** Messages whose cached summaries are fetched together (few reads on large folders). */
const SUMMARY_CHUNK = 512;

async function summaryOf(folder: Folder, uid: number, raw: Buffer | undefined, prefetched: Map<number, unknown>): Promise<MessageSummary> {
  const cached = prefetched.has(uid) ? prefetched.get(uid) : await folder.getSummary(uid);
  if (isCurrentSummary(cached)) return cached;
  // No analyzer configured on the store, or a summary cached by an older analyzer: analyse now (not cached).
  return analyzeMessage(raw ?? (await folder.read(uid)));
}

/** RFC 5530 §3 EXPUNGEISSUED: the tagged NO of a FETCH that named messages another session expunged. */
const EXPUNGE_ISSUED = noResult('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' });

/**
 * RFC 3501 §6.4.5 FETCH / §6.4.8 UID FETCH (which always returns UID), with
 * CHANGEDSINCE and MODSEQ (RFC 7162 §3.1.4) and BINARY[part]<partial>,
 * BINARY.SIZE[part] (RFC 3516 §4.2). Body sections without .PEEK set
 * \Seen in a read-write mailbox, and then FLAGS is reported too.
 *
 * A message another session expunged keeps its sequence number here until
 * this session is told (RFC 3501 §7.4.1: no EXPUNGE during FETCH). FETCH
 * answers the messages that still exist and then `NO [EXPUNGEISSUED]`
 * (RFC 2180 §4.1.2, RFC 5530), never a silent OK. UID FETCH may announce
 * expunges (§7.4.1): its EXPUNGE responses, sent before the tagged OK, tell
 * the client why a UID got no answer (§6.4.8: UIDs that do not exist are
 * not an error).
 */
function fetchCommand(uid: boolean): CommandSpec<{ set: SetArg; req: FetchRequest }> {
  return defineCommand({
    name: uid ? 'UID FETCH' : 'FETCH',
    states: SELECTED,
    holdExpunges: !uid,
    parse(args) {
      if (args.length < 2) return fail('FETCH needs a set and data items');
      const set = setArg(args[0]);
      if (!set.ok) return set;
      const req = parseFetchArgs(args.slice(1));
      if (!req.ok) return req;
      // RFC 7162 §3.2.6: VANISHED is a UID FETCH modifier (with CHANGEDSINCE, checked by the parser).
      if (req.value.vanished && !uid) return fail('VANISHED is only allowed with UID FETCH');
      return ok({ set: set.value, req: req.value });
    },
    async handle(ctx, { set, req }) {
      const view = ctx.selected!;
      const folder = view.folder;
      if (req.vanished && !ctx.enabled.has('QRESYNC')) return badResult('UID FETCH: VANISHED needs ENABLE QRESYNC first');
      const attrs: FetchAttribute[] = [...req.attributes];
      const has = (name: string): boolean => attrs.some((a) => a.kind === 'simple' && a.name === name);
      if (req.changedSince !== undefined || has('MODSEQ')) ctx.enabled.add('CONDSTORE');
      const condstore = ctx.enabled.has('CONDSTORE');
      if (uid && !has('UID')) attrs.unshift({ kind: 'simple', name: 'UID' });
      if (req.changedSince !== undefined && !has('MODSEQ')) attrs.push({ kind: 'simple', name: 'MODSEQ' });

      // RFC 7162 §3.2.6: the named UIDs expunged since CHANGEDSINCE, before the FETCH responses.
      if (req.vanished && req.changedSince !== undefined) {
        const vanished = vanishedEarlier(view, Number(req.changedSince), set);
        if (vanished) ctx.send(vanished);
      }
      const uids = resolveUids(view, set, uid);
      let targets = view.metas(uids);
      // Named messages gone from the folder since this session was last told.
      let missing = uids.length - targets.length;
      if (req.changedSince !== undefined) {
        const since = req.changedSince;
        targets = targets.filter((t) => BigInt(t.meta.modseq) > since);
      }
      const done = (): ReturnType<typeof okResult> => (missing && !uid ? EXPUNGE_ISSUED : okResult('FETCH completed'));
      if (!targets.length) return done();

      // \Seen first (RFC 3501 §6.4.5 BODY[section]), so FLAGS below shows it.
      const seenSet = new Set<number>();
      // RFC 4314 §4: without `s` the implicit \Seen is not set (the FETCH itself succeeds).
      if (!view.readOnly && view.rights.includes('s') && attrs.some(fetchSetsSeen)) {
        const unseen = targets.filter((t) => !t.meta.flags.includes('\\Seen')).map((t) => t.meta.uid);
        if (unseen.length) {
          const res = await folder.store(unseen, 'add', ['\\Seen']);
          for (const m of res.changed) seenSet.add(m.uid);
          view.ackFlags(unseen);
        }
      }
      const threadIdOf = threadIds(folder.owner, emailIds(folder));
      // Read from the folder at the first message that joins its thread by subject (objectid.ts), once per FETCH.
      let roots: SubjectRoots | undefined;
      // BODY[] / RFC822 and the like are served from the raw bytes (render.ts needsSummary):
      // a FETCH of only those neither loads the summary cache nor parses a message.
      const wantsSummary = attrs.some((a) => renderable(a) && needsSummary(a));
      const wantsRaw = attrs.some((a) => renderable(a) && needsRawMessage(a));
      let unknownCte: UnknownCteError | undefined;
      const bodies = wantsRaw ? new BodyReadAhead(folder, targets.map((t) => ({ uid: t.meta.uid, size: t.meta.size }))) : undefined;
      // Rendering many items for many messages is CPU work: give other sessions their turn (issue 9).
      const work = new CommandWork();
      let prefetched = new Map<number, unknown>();
      const out = new FetchOutput(ctx);
      try {
        for (const [i, t] of targets.entries()) {
          if (wantsSummary && i % SUMMARY_CHUNK === 0) {
            await out.flush();
            prefetched = await folder.getSummaries(targets.slice(i, i + SUMMARY_CHUNK).map((x) => x.meta.uid));
          }
          const meta: MessageMeta = folder.get(t.meta.uid) ?? t.meta;
          let raw: Buffer | undefined;
          let summary: MessageSummary | undefined;
          try {
            if (bodies) {
              // What is gathered goes out before waiting for a file: the client never waits on our batching.
              if (!bodies.ready(meta.uid)) await out.flush();
              raw = await bodies.read(meta.uid);
            }
            if (wantsSummary) summary = await summaryOf(folder, meta.uid, raw, prefetched);
          } catch (err) {
            // Expunged by another session since our view was last updated (RFC 2180 §4.1).
            if (isStoreError(err, 'NONEXISTENT')) {
              missing++;
              continue;
            }
            throw err;
          }
          const items: ResponseValue[] = [];
          let flagsShown = false;
          let failed = false;
          for (const a of attrs) {
            if (a.kind === 'simple') {
              switch (a.name) {
                case 'UID':
                  items.push(atom('UID'), num(meta.uid));
                  continue;
                case 'FLAGS':
                  items.push(atom('FLAGS'), view.flagsOf(meta));
                  flagsShown = true;
                  continue;
                case 'INTERNALDATE':
                  items.push(atom('INTERNALDATE'), str(formatDateTime(meta.internalDate)));
                  continue;
                case 'RFC822.SIZE':
                  items.push(atom('RFC822.SIZE'), num(meta.size));
                  continue;
                case 'MODSEQ':
                  items.push(atom('MODSEQ'), list([num(meta.modseq)]));
                  continue;
                case 'EMAILID':
                  items.push(atom('EMAILID'), objectIdValue(meta.emailId));
                  continue;
                case 'THREADID': {
                  // From the cached summary's References, else its subject (objectid.ts): THREADID counts as content.
                  const fields = summary?.sort ?? null;
                  if (needsSubjectRoot(fields)) roots ??= await subjectRoots(folder.owner, folder, work);
                  items.push(atom('THREADID'), objectIdValue(threadIdOf(fields, meta.uid, roots)));
                  continue;
                }
                default:
                  break;
              }
            }
            let pair: ReturnType<typeof renderFetchItem>;
            try {
              pair = renderFetchItem(a, summary, raw);
            } catch (err) {
              // RFC 3516 §4.2: BINARY of a part we cannot decode fails the FETCH with NO [UNKNOWN-CTE]; other messages are still answered.
              if (!(err instanceof UnknownCteError)) throw err;
              unknownCte = err;
              failed = true;
              break;
            }
            if (pair) items.push(pair[0], pair[1]);
          }
          if (failed) continue;
          if (seenSet.has(meta.uid) && !flagsShown) {
            items.push(atom('FLAGS'), view.flagsOf(meta));
            flagsShown = true;
          }
          // A keyword set elsewhere and not announced yet: the new FLAGS list first (RFC 3501 §7.2.6).
          if (flagsShown) for (const r of view.keywordUpdate([meta.flags])) out.add(r, SMALL_RESPONSE_BYTES);
          if (condstore && flagsShown && !has('MODSEQ') && req.changedSince === undefined) {
            items.push(atom('MODSEQ'), list([num(meta.modseq)]));
          }
          out.add(data(num(t.seq), atom('FETCH'), list(items)), (raw?.length ?? 0) + SMALL_RESPONSE_BYTES);
          if (out.bytes >= FLUSH_BYTES) await out.flush();
          if (work.due(attrs.length)) {
            await out.flush();
            await work.pause();
          }
        }
      } finally {
        // Whatever was answered goes out before the tagged reply (or the error the dispatcher answers).
        out.write();
      }
      if (unknownCte) return noResult(unknownCte.message, { name: 'UNKNOWN-CTE' });
      return done();
    },
  });
}

/** FETCH responses gathered for one write (see FLUSH_BYTES). */
class FetchOutput {
  private pending: ImapResponse[] = [];
  /** Bytes gathered (bodies exactly, the rest estimated). */
  bytes = 0;
  constructor(private readonly ctx: SessionContext) {}

  add(r: ImapResponse, bytes: number): void {
    this.pending.push(r);
    this.bytes += bytes;
  }

  /** Writes what is gathered. */
  write(): void {
    if (!this.pending.length) return;
    this.ctx.sendAll(this.pending);
    this.pending = [];
    this.bytes = 0;
  }

  /** Writes what is gathered and waits until the socket has taken it (back-pressure: a slow client slows only its own FETCH). */
  async flush(): Promise<void> {
    this.write();
    await this.ctx.drain();
  }
}

/** Attributes rendered from the message (not from the index metadata). */
function renderable(a: FetchAttribute): boolean {
  if (a.kind !== 'simple') return true;
  return !['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'EMAILID'].includes(a.name);
}

export const FETCH = fetchCommand(false);
export const UID_FETCH = fetchCommand(true);
