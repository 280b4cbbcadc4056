import { isStoreError, type Folder, type MessageMeta } from '../../store';
import { analyzeMessage, type MessageSummary } from '../message';
import { atom, data, list, num, type ResponseValue } from '../protocol';
import { SEARCH_CHARSETS, decideOnMetadata, matchesSearch, parseSearch, type SearchKey, type SearchMessage, type SearchQuery } from '../search';
import { fail, ok } from './args';
import { SELECTED, defineCommand, noResult, okResult, type CommandSpec } from './types';

type SearchArgs = { badCharset: true } | { badCharset: false; query: SearchQuery };

/** Does the key look at anything besides index metadata (flags, dates, sizes, numbers)? */
function needsSummary(key: SearchKey): boolean {
  switch (key.op) {
    case 'header':
    case 'sentdate':
    case 'body':
    case 'text':
      return true;
    case 'and':
      return key.keys.some(needsSummary);
    case 'or':
      return needsSummary(key.left) || needsSummary(key.right);
    case 'not':
      return needsSummary(key.key);
    default:
      return false;
  }
}

function usesModseq(key: SearchKey): boolean {
  switch (key.op) {
    case 'modseq':
      return true;
    case 'and':
      return key.keys.some(usesModseq);
    case 'or':
      return usesModseq(key.left) || usesModseq(key.right);
    case 'not':
      return usesModseq(key.key);
    default:
      return false;
  }
}

async function loadSummary(folder: Folder, uid: number): Promise<MessageSummary> {
  const cached = (await folder.getSummary(uid)) as MessageSummary | undefined;
  if (cached && typeof cached === 'object' && 'root' in cached) return cached;
  return analyzeMessage(await folder.read(uid));
}

/**
 * RFC 3501 §6.4.4 SEARCH / UID SEARCH, with MODSEQ (RFC 7162 §3.1.5).
 * Keys on flags, dates, sizes and numbers run on the index alone; header
 * keys use the cached summary; only BODY/TEXT read message files.
 */
function searchCommand(uid: boolean): CommandSpec<SearchArgs> {
  return defineCommand({
    name: uid ? 'UID SEARCH' : 'SEARCH',
    states: SELECTED,
    holdExpunges: !uid,
    parse(args) {
      const r = parseSearch(args);
      if (!r.ok) return r.badCharset ? ok<SearchArgs>({ badCharset: true }) : fail(r.error);
      if (r.value.returnOptions) return fail('SEARCH RETURN (ESEARCH) is not supported');
      return ok<SearchArgs>({ badCharset: false, query: r.value });
    },
    async handle(ctx, a) {
      if (a.badCharset) {
        return noResult('Unsupported charset', { name: 'BADCHARSET', args: [list(SEARCH_CHARSETS.map(atom))] });
      }
      const view = ctx.selected!;
      const folder = view.folder;
      const key = a.query.key;
      const withSummary = needsSummary(key);
      const modseqQuery = usesModseq(key);
      if (modseqQuery) ctx.enabled.add('CONDSTORE');
      const sctx = { messageCount: view.count, maxUid: view.lastUid };
      const hits: number[] = [];
      let highest = 0;
      const uids = view.allUids();
      for (let i = 0; i < uids.length; i++) {
        const meta: MessageMeta | undefined = folder.get(uids[i]);
        if (!meta) continue; // expunged by another session, not yet announced
        let summary: MessageSummary | null = null;
        const msg: SearchMessage = {
          seq: i + 1,
          uid: meta.uid,
          flags: meta.flags,
          internalDate: meta.internalDate,
          size: meta.size,
          modseq: BigInt(meta.modseq),
          recent: view.isRecent(meta.uid), // RFC 3501 §6.4.4 RECENT / NEW / OLD
          summary: () => summary,
          raw: () => folder.read(meta.uid),
        };
        let match: boolean;
        try {
          // Load the cached summary only for messages metadata cannot rule
          // in or out (a sequence set or flag often decides alone).
          const decided = withSummary ? decideOnMetadata(key, msg, sctx) : null;
          if (decided !== null) match = decided;
          else {
            if (withSummary) summary = await loadSummary(folder, meta.uid);
            match = await matchesSearch(key, msg, sctx);
          }
        } catch (err) {
          if (isStoreError(err, 'NONEXISTENT')) continue;
          throw err;
        }
        if (match) {
          hits.push(uid ? meta.uid : i + 1);
          if (meta.modseq > highest) highest = meta.modseq;
        }
      }
      const items: ResponseValue[] = [atom('SEARCH'), ...hits.map((n) => num(n))];
      // RFC 7162 §3.1.5: with MODSEQ in the criteria, report the highest mod-sequence of the hits.
      if (modseqQuery && hits.length) items.push(list([atom('MODSEQ'), num(highest)]));
      ctx.send(data(...items));
      return okResult('SEARCH completed');
    },
  });
}

export const SEARCH = searchCommand(false);
export const UID_SEARCH = searchCommand(true);
