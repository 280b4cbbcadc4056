import { asAtom, atom, data, formatSequenceSet, list, NIL, num, str, type ImapResponse, type ImapValue, type ResponseValue } from '../protocol';

/**
 * What a search found, in mailbox order, as parallel arrays (typed arrays
 * from SEARCH: tens of thousands of hits make no object each): per hit
 * the number it is reported by (sequence number or UID), its UID and its
 * mod-sequence.
 */
export interface SearchHits {
  readonly length: number;
  readonly n: ArrayLike<number>;
  readonly uids: ArrayLike<number>;
  readonly modseqs: ArrayLike<number>;
}

/**
 * RFC 4731 §3.1 `RETURN ()` is `RETURN (ALL)`; so is a list whose only
 * options are RFC 5267 §4.2 CONTEXT (a hint) and UPDATE (how long the
 * result lives, not what it says).
 */
function effective(options: readonly string[]): readonly string[] {
  const o = options.filter((x) => x !== 'CONTEXT' && x !== 'UPDATE');
  return o.length === 0 ? ['ALL'] : o;
}

/** Only MIN and/or MAX were asked (besides SAVE): results that name at most two messages. */
function minMaxOnly(options: readonly string[]): boolean {
  const o = effective(options);
  return (o.includes('MIN') || o.includes('MAX')) && !o.includes('ALL') && !o.includes('COUNT') && !o.includes('PARTIAL');
}

/** Positions of the MIN and MAX hits (one when they are the same message), for minMaxOnly results. */
function minMaxAt(options: readonly string[], length: number): number[] {
  if (!length) return [];
  const out: number[] = [];
  if (options.includes('MIN')) out.push(0);
  if (options.includes('MAX') && !(out.length && length === 1)) out.push(length - 1);
  return out;
}

/** Does a SEARCH's argument list start with `RETURN (... SAVE ...)` (RFC 5182)? Read before the criteria are parsed. */
export function returnsSave(args: readonly ImapValue[]): boolean {
  const opts = args[1];
  return asAtom(args[0], true) === 'RETURN' && opts?.type === 'list' && opts.items.some((o) => asAtom(o, true) === 'SAVE');
}

/**
 * UIDs that SEARCH RETURN (SAVE) keeps in `$`: all hits, or only the MIN
 * and MAX messages when those are the only other options (RFC 5182 §2.4).
 */
export function uidsToSave(options: readonly string[], hits: SearchHits): number[] {
  const kept = minMaxOnly(options) ? minMaxAt(options, hits.length).map((i) => hits.uids[i]!) : Array.from(hits.uids);
  return kept.sort((a, b) => a - b);
}

/**
 * The ESEARCH response (RFC 4731 §3.1, §4 `esearch-response`) for `hits`
 * (ascending): `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [ALL set] [COUNT n]`,
 * MIN/MAX/ALL left out when nothing matched (§3.1). With `modseq`, the
 * highest mod-sequence of the messages the result names (RFC 7162 §3.1.5:
 * only the MIN/MAX ones when those are all that was asked). Null when SAVE
 * is the only option: then no ESEARCH is sent (RFC 5182 §2.1).
 */
export function esearchResponse(
  tag: string,
  uid: boolean,
  options: readonly string[],
  hits: SearchHits,
  modseq: boolean,
  partial?: { readonly low: number; readonly high: number },
): ImapResponse | null {
  const o = effective(options);
  if (o.every((x) => x === 'SAVE')) return null;
  const items: ResponseValue[] = [atom('ESEARCH'), list([atom('TAG'), str(tag)])];
  if (uid) items.push(atom('UID'));
  if (hits.length) {
    if (o.includes('MIN')) items.push(atom('MIN'), num(hits.n[0]!));
    if (o.includes('MAX')) items.push(atom('MAX'), num(hits.n[hits.length - 1]!));
    if (o.includes('ALL')) items.push(atom('ALL'), atom(formatSequenceSet(hits.n)));
  }
  if (o.includes('COUNT')) items.push(atom('COUNT'), num(hits.length));
  if (partial) {
    // RFC 5267 §4.4: the messages at positions low..high of the result (ascending here), NIL when none.
    const page: number[] = [];
    for (let i = partial.low - 1; i < Math.min(partial.high, hits.length); i++) page.push(hits.n[i]!);
    items.push(atom('PARTIAL'), list([atom(`${partial.low}:${partial.high}`), page.length ? atom(formatSequenceSet(page)) : NIL]));
  }
  if (modseq && hits.length) {
    let highest = 0;
    if (minMaxOnly(o)) {
      for (const i of minMaxAt(o, hits.length)) highest = Math.max(highest, hits.modseqs[i]!);
    } else {
      for (let i = 0; i < hits.length; i++) if (hits.modseqs[i]! > highest) highest = hits.modseqs[i]!;
    }
    items.push(atom('MODSEQ'), num(highest));
  }
  return data(...items);
}
