/**
 * IMAP wire format: the incremental command reader, argument parsers and the
 * response compiler. Knows nothing about mailboxes (see CONVENTIONS.md).
 */
export type { AtomValue, ImapCommand, ImapParseError, ImapValue, ListValue, NilValue, NumberValue, StringValue } from './values';
export { asAstring, asAstringBytes, asAtom, asBigNumber, asNString, asNumber, asString } from './values';
export type { CommandReaderOptions, LiteralDecision, LiteralLimits, LiteralRequest, ReaderEvent } from './reader';
export { CommandReader } from './reader';
export type { ParseResult } from './result';
export type { SeqNumber, SequenceRange, SequenceSet } from './sequence';
export {
  filterBySequenceSet,
  formatSequenceSet,
  normalizeRanges,
  parseSequenceSet,
  resolveSequenceSet,
  sequenceSetMatcher,
  sequenceSetExceeds,
} from './sequence';
export type { FetchAttribute, FetchRequest, Partial, Section, SimpleFetchName } from './fetch';
export { fetchItemName, fetchSetsSeen, formatSection, parseFetchArgs, parseSection } from './fetch';
export type { StoreRequest } from './store';
export { parseStoreArgs } from './store';
export { parseFlag, parseFlagList, sameFlag, SYSTEM_FLAGS } from './flags';
export type { CalendarDate, DateTimeValue } from './dates';
export { dayNumber, formatDateTime, parseDate, parseDateTime } from './dates';
export type { MailboxArg } from './mailbox';
export { parseListPattern, parseMailboxName } from './mailbox';
export type { ImapResponse, ImapStatus, ResponseCode, ResponseValue } from './compiler';
export {
  atom,
  compileResponse,
  compileResponseBuffer,
  compileValue,
  concat,
  continuation,
  data,
  list,
  lit,
  lit8,
  NIL,
  nstr,
  num,
  str,
  stringForm,
  tagged,
  untagged,
} from './compiler';
