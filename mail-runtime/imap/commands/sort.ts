import { LIMITS } from '../../common/limits';
import { isStoreError, type Folder } from '../../store';
import { analyzeMessage, sortFieldsOf, unicodeCasemap, type SortFields } from '../message';
import { atom, data, list, num, type ImapValue, type ParseResult, type ResponseValue } from '../protocol';
import { parseSearch, SearchWorkExceeded, type SearchQuery } from '../search';
import { parseSortCriteria, sortMessages, WorkBudget, WorkExceeded, type SortCriterion, type SortMessage } from '../sort';
import { fail, ok, overLimit } from './args';
import { keepUpdated, noUpdateCode } from './context-update';
import { esortResponse, parseReturnOptions, type ReturnOptions } from './esort';
import { badCharset, findMatches, highestModseq, modseqSearch, type SearchMatch } from './search';
import { SELECTED, defineCommand, noResult, okResult, type CommandResult, type CommandSpec } from './types';
import { CommandWork } from './work';

/** Summaries read per batch when SORT/THREAD gather their fields (as SEARCH batches them). */
const FIELDS_BATCH = 512;

/** What a message with no readable header sorts as (RFC 5256 §3: missing fields are empty strings). */
const EMPTY_FIELDS: SortFields = {
  subject: '',
  replyOrForward: false,
  sent: null,
  from: '',
  to: '',
  cc: '',
  displayFrom: '',
  displayTo: '',
  messageId: null,
  references: [],
};

/**
 * The hits as SortMessages. Their fields come from the summaries the store
 * keeps (one batched read per FIELDS_BATCH messages, no message parsed
 * again); only a message with no cached summary (a store without an
 * analyzer) is analysed from its file. `withFields` false (SORT by ARRIVAL
 * or SIZE only) reads nothing at all.
 */
export async function sortMessagesOf(folder: Folder, hits: readonly SearchMatch[], withFields: boolean, work: CommandWork): Promise<SortMessage[]> {
  const out: SortMessage[] = [];
  for (let start = 0; start < hits.length; start += FIELDS_BATCH) {
    const batch = hits.slice(start, start + FIELDS_BATCH);
    const cached = withFields ? await folder.getSummaries(batch.map((h) => h.meta.uid)) : undefined;
    for (const h of batch) {
      let fields: SortFields | null = EMPTY_FIELDS;
      if (cached) {
        fields = sortFieldsOf(cached.get(h.meta.uid));
        if (fields === null) fields = await analyzeFile(folder, h.meta.uid);
      }
      out.push({ seq: h.seq, uid: h.meta.uid, size: h.meta.size, arrival: h.meta.internalDate.getTime(), fields });
      if (work.due()) await work.pause();
    }
  }
  return out;
}

async function analyzeFile(folder: Folder, uid: number): Promise<SortFields> {
  try {
    return analyzeMessage(await folder.read(uid)).sort;
  } catch (err) {
    // Expunged by another session meanwhile: it still has its sequence number here (RFC 2180 §4.1.3 lets it sort as empty).
    if (isStoreError(err, 'NONEXISTENT')) return EMPTY_FIELDS;
    throw err;
  }
}

/** RFC 5256 §3: the charset argument, then the search keys; both as SEARCH reads them. */
export function parseCharsetAndKeys(
  args: readonly ImapValue[],
  what: string,
): ParseResult<{ badCharset: true } | { badCharset: false; query: SearchQuery }> {
  if (args.length === 0) return fail(`${what} needs a charset`);
  if (args.length === 1) return fail(`${what} needs search criteria`);
  const r = parseSearch([{ type: 'atom', value: 'CHARSET' }, ...args]);
  if (!r.ok) {
    if (r.badCharset) return ok({ badCharset: true });
    return r.limit ? overLimit(r.error) : fail(r.error);
  }
  return ok({ badCharset: false, query: r.value });
}

/**
 * SORT's string keys compared under i;unicode-casemap (RFC 5051; RFC 5256
 * §2.1 names i;ascii-casemap as the floor, and this one agrees with it on
 * ASCII): each field mapped once per message, then compared as octets.
 */
export function casemapped(m: SortMessage): SortMessage {
  const f = m.fields;
  return {
    ...m,
    fields: {
      ...f,
      subject: unicodeCasemap(f.subject),
      from: unicodeCasemap(f.from),
      to: unicodeCasemap(f.to),
      cc: unicodeCasemap(f.cc),
      displayFrom: unicodeCasemap(f.displayFrom),
      displayTo: unicodeCasemap(f.displayTo),
    },
  };
}

/** Does a SORT need header material (anything but ARRIVAL and SIZE)? */
const needsFields = (criteria: readonly SortCriterion[]): boolean => criteria.some((c) => c.key !== 'ARRIVAL' && c.key !== 'SIZE');

/** The LIMIT answer when SEARCH, SORT or THREAD ran out of work budget. */
export function limitResult(err: unknown, what: string): CommandResult | undefined {
  if (err instanceof SearchWorkExceeded || err instanceof WorkExceeded) {
    return noResult(`${err.message}; narrow the ${what}`, { name: 'LIMIT' });
  }
  return undefined;
}

type SortArgs = { badCharset: true } | { badCharset: false; query: SearchQuery; criteria: SortCriterion[]; returns: ReturnOptions | undefined };

/**
 * RFC 5256 §3 SORT / UID SORT, with SORT=DISPLAY keys (RFC 5957) and
 * ESORT return options (RFC 5267 §3). The search runs as SEARCH does
 * (same parser, limits and budget); the ordering is a paced merge sort
 * bounded by LIMITS.imapSearchWorkUnits of its own (NO [LIMIT], RFC 5530).
 */
function sortCommand(uid: boolean): CommandSpec<SortArgs> {
  return defineCommand({
    name: uid ? 'UID SORT' : 'SORT',
    states: SELECTED,
    holdExpunges: !uid,
    parse(args, cmd) {
      let i = 0;
      let returns: ReturnOptions | undefined;
      // RFC 5267 §3.1: SORT RETURN (return-opts) sort-criteria charset search-keys
      if (args[0]?.type === 'atom' && args[0].value.toUpperCase() === 'RETURN') {
        const r = parseReturnOptions(args[1]);
        if (!r.ok) return r;
        returns = r.value;
        i = 2;
      }
      const criteria = parseSortCriteria(args[i]);
      if (!criteria.ok) return criteria;
      const rest = parseCharsetAndKeys(args.slice(i + 1), cmd.name);
      if (!rest.ok) return rest;
      if (rest.value.badCharset) return ok<SortArgs>({ badCharset: true });
      return ok<SortArgs>({ badCharset: false, query: rest.value.query, criteria: criteria.value, returns });
    },
    async handle(ctx, a, cmd) {
      if (a.badCharset) return badCharset();
      const view = ctx.selected!;
      const modseqQuery = modseqSearch(ctx, a.query.key);
      const changesAtStart = view.changes;
      const address = view.folder.owner;
      const run = async (work: CommandWork): Promise<{ hits: SearchMatch[]; sorted: SortMessage[] }> => {
        const found = await findMatches(view, address, a.query.key, work);
        const withFields = needsFields(a.criteria);
        const fetched = await sortMessagesOf(view.folder, found, withFields, work);
        const messages = withFields ? fetched.map(casemapped) : fetched;
        return { hits: found, sorted: await sortMessages(messages, a.criteria, new WorkBudget(work, LIMITS.imapSearchWorkUnits, 'SORT')) };
      };
      let sorted: SortMessage[];
      let hits: SearchMatch[];
      try {
        ({ hits, sorted } = await run(new CommandWork()));
      } catch (err) {
        const limited = limitResult(err, 'search');
        if (limited) return limited;
        throw err;
      }
      const ids = sorted.map((m) => (uid ? m.uid : m.seq));
      if (a.returns) {
        ctx.send(esortResponse(cmd.tag, uid, ids, a.returns, modseqQuery ? highestModseq(hits) : undefined));
        if (a.returns.update) {
          // RFC 5267 §4.2 with §4.3 positions in sort order (context-update.ts), or NOUPDATE.
          const rerun = async (work: CommandWork): Promise<number[]> => (await run(work)).sorted.map((m) => m.uid);
          const kept = keepUpdated(view, { tag: cmd.tag, uid, sorted: true, rerun }, sorted.map((m) => m.uid), changesAtStart);
          if (!kept) return okResult('SORT completed, too many searches kept up to date', noUpdateCode(cmd.tag));
        }
        return okResult('SORT completed');
      }
      const items: ResponseValue[] = [atom('SORT'), ...ids.map((n) => num(n))];
      // RFC 7162 §3.1.5 applies to SORT too (§3.1.5: "SEARCH and SORT").
      if (modseqQuery && ids.length) items.push(list([atom('MODSEQ'), num(highestModseq(hits))]));
      ctx.send(data(...items));
      return okResult('SORT completed');
    },
  });
}

export const SORT = sortCommand(false);
export const UID_SORT = sortCommand(true);
