/**
 * Content filters for the SMTP listeners: the chain runner, the built-in
 * filters (SPF/DKIM/DMARC/ARC, clamd, spamd/rspamd, milters) and
 * buildFilters, which turns a gateway's RuntimeConfig into its Filter list.
 */
export type { Envelope, Filter, FilterContext, FilterResult, HeaderEdit, MessageView, Phase, Reply, SessionInfo, Verdict } from './types';
export { runFilters } from './chain';
export type { ChainResult, RunOptions } from './chain';
export { clamdFilter } from './data.antivirus.clamd';
export type { ClamdFilterOptions } from './data.antivirus.clamd';
export { spamFilter } from './data.spam';
export type { SpamFilterOptions } from './data.spam';
export { authenticationFilter } from './data.authentication';
export type { AuthenticationFilterOptions, DNSResolver } from './data.authentication';
export { milterFilter } from './data.milter';
export type { MilterFilterOptions } from './data.milter';
