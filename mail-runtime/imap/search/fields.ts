import { decodedAddressText, decodedHeaderValues, isCurrentSummary, SUMMARY_VERSION, unicodeCasemap } from '../message';
import type { SearchKey } from './parse';

/**
 * The short record of a message that SEARCH SUBJECT/FROM/TO/CC/BCC compare
 * (the store keeps it per message in `search-fields.bin`, store/fields-cache.ts):
 * `[from, to, cc, bcc, ...subjects]`, each exactly the text the evaluator
 * would make from the summary — the envelope's address field as
 * decodedAddressText gives it, every Subject field RFC 2047 decoded
 * (decodedHeaderValues) — case-folded by the RFC 5051 i;unicode-casemap
 * (RFC 3501 §6.4.4 substring matching is case-insensitive). Same functions,
 * same answers; only the work of reading and decoding moves to when the
 * message arrives.
 */
export const FIELD_INDEX = { from: 0, to: 1, cc: 2, bcc: 3 } as const;
/** Where the Subject values start in a record. */
export const SUBJECTS_AT = 4;

/** The derivation: any change to it or to the analyzer's summary bumps this, so older records are never used. */
export const SEARCH_FIELDS = {
  version: `search-fields 1, summary ${SUMMARY_VERSION}`,
  derive(summary: unknown): readonly string[] | null {
    if (!isCurrentSummary(summary)) return null;
    const e = summary.envelope;
    return [
      unicodeCasemap(decodedAddressText(e.from)),
      unicodeCasemap(decodedAddressText(e.to)),
      unicodeCasemap(decodedAddressText(e.cc)),
      unicodeCasemap(decodedAddressText(e.bcc)),
      ...decodedHeaderValues(summary.header, 'Subject').map(unicodeCasemap),
    ];
  },
};

/**
 * Can a record answer this text key? SUBJECT and FROM/TO/CC/BCC with a
 * non-empty string: an empty one asks whether the field is there at all
 * (RFC 3501 §6.4.4 as the evaluator reads it), which the record does not
 * say, so those go the summary way.
 */
export function recordAnswers(k: SearchKey): boolean {
  if (k.op === 'address') return k.value !== '';
  if (k.op === 'header') return k.value !== '' && k.field.toLowerCase() === 'subject';
  return false;
}
