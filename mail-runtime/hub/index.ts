/**
 * The hub role (DESIGN.md): directory, placement, membership and health,
 * settings, the admin API, hub redundancy through a lease on the shared
 * storage. Members talk to it through mail-runtime/cluster; the wire
 * contract is ./protocol.
 */
export { clusterTlsPem, runHub, readSecretFile, startHubApiFirst, timingOf, type RunningHub } from './main';
export { Hub, type ActiveLease, type ActiveLeaseEvents } from './hub';
export { hubRoutes } from './api';
