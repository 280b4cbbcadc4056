/**
 * Message content for IMAP: `analyzeMessage` builds the cacheable summary
 * (MIME tree with byte offsets, ENVELOPE and BODYSTRUCTURE data); the
 * renderers turn (summary, raw) into FETCH data items (RFC 3501 §7.4.2).
 * Knows nothing about mailboxes.
 */
export type { EnvelopeAddress } from './address';
export { MISSING_DOMAIN, parseAddressList } from './address';
export type { Envelope, MessageSummary, MimePart } from './analyze';
export { analyzeMessage, sortFieldsOf, SUMMARY_VERSION } from './analyze';
export type { SortFields } from './sort-fields';
export { asciiCasemap, baseSubject, compareOctets, MAX_REFERENCES, parseMessageIds, parseSentDate } from './sort-fields';
export type { HeaderField } from './header';
export { parseHeaderFields } from './header';
export {
  applyPartial,
  bodyStructureValue,
  envelopeValue,
  findPart,
  humanString,
  needsRawMessage,
  renderFetchItem,
  sectionBytes,
} from './render';
export { bodyTexts, decodedHeaderBlock, decodedHeaderValues, decodeHeaderValue, decodePartBody, decodeQuotedPrintable } from './text';
