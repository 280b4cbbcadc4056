/**
 * IMAP wire format: the incremental command reader, argument parsers and the
 * response compiler. Knows nothing about mailboxes (see CONVENTIONS.md).
 */
export type { ImapCommand, ImapValue } from './values';
export { asAstring, asAtom, asBigNumber, asNString, asNumber } from './values';
export type { LiteralDecision, LiteralLimits, LiteralRequest, ReaderEvent } from './reader';
export { CommandReader } from './reader';
export type { ParseResult } from './result';
export type { SequenceSet } from './sequence';
export { filterBySequenceSet, formatSequenceSet, normalizeRanges, parseSequenceSet, resolveSequenceSet, sequenceSetMatcher, sequenceSetExceeds } from './sequence';
export type { FetchAttribute, FetchRequest, Section } from './fetch';
export { fetchItemName, fetchSetsSeen, parseFetchArgs } from './fetch';
export type { StoreRequest } from './store';
export { parseStoreArgs } from './store';
export { parseFlagList, SYSTEM_FLAGS } from './flags';
export type { CalendarDate } from './dates';
export { dayNumber, formatDateTime, parseDate, parseDateTime } from './dates';
export { parseMailboxName } from './mailbox';
export type { ImapResponse, ResponseCode, ResponseValue } from './compiler';
export { atom, compileResponse, compileResponseBuffer, compileResponses, compileValue, concat, continuation, data, list, lit, lit8, NIL, nstr, num, nums, str, tagged, untagged } from './compiler';
