/**
 * Failover of a geo-redundant pair (issue 13): the site lease, the
 * controller with its probes and traffic switch, and the platform power
 * adapters (./power).
 */
export { FailoverController, Hysteresis } from './controller';
export type { ControllerStatus } from './controller';
export { SiteLease, LeaseError } from './lease';
export { EventLog } from './events';
export type { FailoverEvent } from './events';
export { runFailoverController } from './main';
