/**
 * The hub role (DESIGN.md): directory, placement, membership and health,
 * settings, the admin API, hub redundancy through a lease on the shared
 * storage. Members talk to it through mail-runtime/cluster; the wire
 * contract is ./protocol.
 */
export { runHub, type RunningHub } from './main';
export { hubRoutes } from './api';
