/**
 * The member side of the cluster protocol (mail-runtime/hub/protocol):
 * a hub client with failover over the hub URLs, the member lifecycle
 * (register, heartbeats, stream, lease), a node's ownership view, the
 * hub-backed auth Directory with its cache, and live settings.
 */
export { HubClient } from './hub-client';
export { ClusterMember } from './member';
export { Ownership } from './ownership';
export { HubDirectory } from './directory';
export { SettingsAppliers, ipMatcher } from './settings';
export { hubUrlsOf, readClusterCa, readClusterSecrets, readClusterToken } from './config';
export { HubLink } from './hub-link';
export { MemberCertificate } from './member-certificate';
export { PlacementCache, type NoRoute, type Route } from './placement-cache';
export { hubLoginHistory } from './shared-login-history';
