/**
 * SEARCH (RFC 3501 §6.4.4): criteria parser and an evaluator over a message
 * accessor. Knows nothing about mailboxes or storage.
 */
export type { SearchKey, SearchParseResult, SearchQuery } from './parse';
export { parsePartialRange, parseSearch, SEARCH_CHARSETS } from './parse';
export type { SearchMessage } from './evaluate';
export { anySearchKey, decideOnMetadata, flagKeysAreSystem, matchesSearch, SearchEvaluator, searchMessages, searchNeedsBody, searchUsesRecords, SearchWorkExceeded } from './evaluate';
export { SEARCH_FIELDS } from './fields';
export type { FoldedTexts } from './plain-body';
export { decodedSearchTexts, plainSearchTexts, textIncludes } from './plain-body';
export { searchWindow } from './window';
