/**
 * Content filters for the SMTP listeners. A listener needs two calls:
 * `buildFilters(config)` once (the gateway's RuntimeConfig → its Filter
 * list) and `runFilters(filters, ctx)` per phase, answering the client
 * from the verdict and, at DATA, applying the header edits
 * (`applyHeaderEdits`) and the Junk hint to the message it queues.
 */
export type { Filter, FilterContext, FilterResult, HeaderEdit, MessageView, Phase } from './types';
export { runFilters } from './chain';
export { buildFilters } from './build';
export { applyHeaderEdits } from './headers';
export { authenticationFilter } from './data.authentication';
export type { AuthenticationFilterOptions } from './data.authentication';
export { clamdFilter } from './data.antivirus.clamd';
export { spamFilter } from './data.spam';
export type { SpamFilterOptions } from './data.spam';
export { milterFilter } from './data.milter';
export type { MilterFilterOptions } from './data.milter';
