/**
 * The member side of the cluster protocol (mail-runtime/hub/protocol):
 * a hub client with failover over the hub URLs, the member lifecycle
 * (register, heartbeats, stream, lease), a node's ownership view, the
 * hub-backed auth Directory with its cache, and live settings.
 */
export { HubClient, HubCallError, HubUnreachableError, type HubClientOptions } from './hub-client';
export { ClusterMember, type ClusterMemberOptions, type MemberHooks } from './member';
export { Ownership, type OwnershipVerdict, type OwnershipOptions } from './ownership';
export { HubDirectory, DirectoryUnavailableError, NotServedHereError, type HubDirectoryOptions } from './directory';
export { SettingsAppliers, ipMatcher } from './settings';
export { hubUrlsOf, readClusterSecrets } from './config';
