/**
 * The hub role (DESIGN.md): directory, placement, membership and health,
 * settings, the admin API, hub redundancy through a lease on the shared
 * storage. Members talk to it through mail-runtime/cluster; the wire
 * contract is ./protocol.
 */
export { runHub, timingOf, readSecretFile, RUNTIME_VERSION, type RunningHub } from './main';
export { Hub, type HubOptions, type ActiveHub } from './hub';
export { HubError } from './errors';
export { hubRoutes, openApiDocument } from './api';
export { createClusterCa, issueMemberCertificate, certificateNames, type Pem } from './ca';
