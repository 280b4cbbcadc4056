/**
 * SORT (RFC 5256 §3) with DISPLAYFROM/DISPLAYTO (RFC 5957 §2): criteria
 * parser and a comparator over prepared records. Knows nothing about
 * mailboxes: the IMAP command hands in one SortMessage per searched message.
 */
import { asAtom, type ImapValue, type ParseResult } from '../protocol';
import { compareOctets, type SortFields } from '../message';
import { pacedSort, type WorkBudget } from './pace';

/** One searched message as SORT and THREAD see it. */
export interface SortMessage {
  readonly seq: number;
  readonly uid: number;
  /** RFC822.SIZE */
  readonly size: number;
  /** INTERNALDATE, ms since 1970 (ARRIVAL, and the sent date's fallback, RFC 5256 §2.2). */
  readonly arrival: number;
  readonly fields: SortFields;
}

export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
export interface SortCriterion {
  readonly key: SortKey;
  readonly reverse: boolean;
}

const KEYS: ReadonlySet<string> = new Set<SortKey>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

/** RFC 5256 §5 `sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`, `sort-criterion = ["REVERSE" SP] sort-key`. */
export function parseSortCriteria(v: ImapValue | undefined): ParseResult<SortCriterion[]> {
  if (v?.type !== 'list' || v.items.length === 0) return { ok: false, error: 'SORT needs a parenthesised list of sort criteria' };
  const out: SortCriterion[] = [];
  for (let i = 0; i < v.items.length; i++) {
    let word = asAtom(v.items[i], true);
    let reverse = false;
    if (word === 'REVERSE') {
      reverse = true;
      word = asAtom(v.items[++i], true);
      if (word === undefined) return { ok: false, error: 'REVERSE needs a sort key' };
    }
    if (word === undefined || !KEYS.has(word)) return { ok: false, error: 'Unknown sort key' };
    out.push({ key: word as SortKey, reverse });
  }
  return { ok: true, value: out };
}

/** RFC 5256 §2.2: the sent date, or INTERNALDATE when Date: could not be read. */
export function sentDate(m: SortMessage): number {
  return m.fields.sent ?? m.arrival;
}

function compareKey(key: SortKey, a: SortMessage, b: SortMessage): number {
  switch (key) {
    case 'ARRIVAL':
      return a.arrival - b.arrival;
    case 'DATE':
      return sentDate(a) - sentDate(b);
    case 'SIZE':
      return a.size - b.size;
    case 'SUBJECT':
      return compareOctets(a.fields.subject, b.fields.subject);
    case 'FROM':
      return compareOctets(a.fields.from, b.fields.from);
    case 'TO':
      return compareOctets(a.fields.to, b.fields.to);
    case 'CC':
      return compareOctets(a.fields.cc, b.fields.cc);
    case 'DISPLAYFROM':
      return compareOctets(a.fields.displayFrom, b.fields.displayFrom);
    case 'DISPLAYTO':
      return compareOctets(a.fields.displayTo, b.fields.displayTo);
  }
}

/**
 * The comparator for a criteria list. RFC 5256 §3: messages that compare
 * equal on every criterion are in mailbox order (sequence number), and
 * REVERSE does not reverse that tie-break.
 */
export function sortComparator(criteria: readonly SortCriterion[]): (a: SortMessage, b: SortMessage) => number {
  return (a, b) => {
    for (const c of criteria) {
      const d = compareKey(c.key, a, b);
      if (d !== 0) return c.reverse ? -d : d;
    }
    return a.seq - b.seq;
  };
}

/** The messages in SORT order (paced and bounded, see ./pace.ts). */
export function sortMessages(messages: readonly SortMessage[], criteria: readonly SortCriterion[], work: WorkBudget): Promise<SortMessage[]> {
  return pacedSort(messages, sortComparator(criteria), work);
}
