/**
 * ESORT (RFC 5267 §3): `SORT RETURN (...)` answered with an ESEARCH
 * response (RFC 4731 §3) whose message lists keep the sort order, and the
 * PARTIAL return option (RFC 5267 §4.4) that pages through them.
 */
import { asAtom, atom, data, formatSequenceSet, list, NIL, num, str, type ImapResponse, type ImapValue, type ParseResult, type ResponseValue } from '../protocol';
import { parsePartialRange } from '../search';
import { fail, ok } from './args';

export interface ReturnOptions {
  readonly min: boolean;
  readonly max: boolean;
  readonly all: boolean;
  readonly count: boolean;
  /** RFC 5267 §4.4 PARTIAL low:high, 1-based positions in the sorted result (low ≤ high). */
  readonly partial?: { readonly low: number; readonly high: number };
  /** RFC 5267 §4.2 UPDATE: keep the result up to date with ADDTO/REMOVEFROM (context-update.ts). */
  readonly update: boolean;
}

/**
 * RFC 4731 §3 `search-return-opts` as SORT takes them (RFC 5267 §3.1):
 * MIN, MAX, ALL, COUNT and PARTIAL, and RFC 5267 §4.2 CONTEXT (a hint
 * that needs nothing from us) and UPDATE. A list with no result option
 * (empty, or only CONTEXT/UPDATE) means ALL.
 */
export function parseReturnOptions(v: ImapValue | undefined): ParseResult<ReturnOptions> {
  if (v?.type !== 'list') return fail('RETURN needs a parenthesised list of return options');
  let min = false;
  let max = false;
  let all = false;
  let count = false;
  let update = false;
  let partial: { low: number; high: number } | undefined;
  for (let i = 0; i < v.items.length; i++) {
    const name = asAtom(v.items[i], true);
    switch (name) {
      case 'MIN':
        min = true;
        break;
      case 'MAX':
        max = true;
        break;
      case 'ALL':
        all = true;
        break;
      case 'COUNT':
        count = true;
        break;
      case 'CONTEXT':
        break;
      case 'UPDATE':
        update = true;
        break;
      case 'PARTIAL': {
        // RFC 5267 §4.4: ALL and PARTIAL together are an error.
        partial = parsePartialRange(v.items[++i]);
        if (!partial) return fail('PARTIAL needs a range like 1:100');
        break;
      }
      default:
        return fail(`Unsupported RETURN option ${(name ?? '').slice(0, 40)}`);
    }
  }
  if (partial && all) return fail('RETURN cannot have both ALL and PARTIAL');
  if (!min && !max && !count && !partial) all = true; // RFC 4731 §3.1: RETURN () is RETURN (ALL)
  return ok(partial ? { min, max, all, count, partial, update } : { min, max, all, count, update });
}

/**
 * `* ESEARCH (TAG "t") [UID] ...` for a sorted result (RFC 4731 §3.1,
 * RFC 5267 §3.2): MIN and MAX are the first and last message in sort
 * order; MIN, MAX and ALL are left out when nothing matched, COUNT is
 * always given when asked for; PARTIAL's NIL means no message in the range.
 * Lists keep the sort order (RFC 5267 §3.2: ALL is "in the requested sort
 * order, using a sequence-set"): only ascending runs become `a:b`.
 */
export function esortResponse(tag: string, uid: boolean, ids: readonly number[], opts: ReturnOptions, modseq: number | undefined): ImapResponse {
  const items: ResponseValue[] = [atom('ESEARCH'), list([atom('TAG'), str(tag)])];
  if (uid) items.push(atom('UID'));
  if (opts.min && ids.length) items.push(atom('MIN'), num(ids[0]!));
  if (opts.max && ids.length) items.push(atom('MAX'), num(ids[ids.length - 1]!));
  if (opts.count) items.push(atom('COUNT'), num(ids.length));
  if (opts.all && ids.length) items.push(atom('ALL'), atom(formatSequenceSet(ids)));
  if (opts.partial) {
    const { low, high } = opts.partial;
    const page = ids.slice(low - 1, high);
    items.push(atom('PARTIAL'), list([atom(`${low}:${high}`), page.length ? atom(formatSequenceSet(page)) : NIL]));
  }
  // RFC 7162 §3.1.5: MODSEQ in the search criteria adds the highest mod-sequence of the result.
  if (modseq !== undefined && ids.length) items.push(atom('MODSEQ'), num(modseq));
  return data(...items);
}
