/**
 * Failover of a geo-redundant pair (issue 13): the site lease and event log
 * other folders read. The controller runs through mail-runtime/main.ts
 * (`./main`), the platform power adapters are in ./power.
 */
export { LeaseHeldError, SiteLease } from './lease';
export { EventLog } from './events';
export type { FailoverEvent } from './events';
export { FailoverRefused, failback, pairStatus, promote, type PairStatus } from './operator';
