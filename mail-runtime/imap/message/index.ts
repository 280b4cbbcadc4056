/**
 * Message content for IMAP: `analyzeMessage` builds the cacheable summary
 * (MIME tree with byte offsets, ENVELOPE and BODYSTRUCTURE data); the
 * renderers turn (summary, raw) into FETCH data items (RFC 3501 §7.4.2).
 * Knows nothing about mailboxes.
 */
export type { MessageSummary, MimePart } from './analyze';
export { analyzeMessage, isCurrentSummary, sortFieldsOf, SUMMARY_VERSION } from './analyze';
export { unicodeCasemap } from './casemap';
export type { SortFields } from './sort-fields';
export { asciiCasemap, baseSubject, compareOctets, MAX_REFERENCES, parseMessageIds, parseSentDate } from './sort-fields';
export { firstField, paramValue, parseContentType, parseEncoding, parseHeaderFields } from './header';
export { bodyStructureValue, envelopeValue, needsRawMessage, needsSummary, renderFetchItem, UnknownCteError } from './render';
export { bodyTexts, decodedAddressText, decodedHeaderBlock, decodedHeaderValues, decodeQuotedPrintable } from './text';
