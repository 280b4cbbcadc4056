/** What stacks and policies may use from components/. */
export { MailCluster } from './mail-cluster';
export type { MailClusterArgs, ClusterMember, ClusterAppliance } from './mail-cluster';
export { MailClusterFromSpec, MemberRole } from './mail-cluster-from-spec';
export { FailoverSite, FAILOVER_SIDES } from './failover-site';
export type { FailoverSiteArgs, FailoverSide, SiteFacts } from './failover-site';
export { PRIMARY_OUTPUTS } from './failover';
export type { SiteSettings } from './failover';
export type { MailClusterFromSpecArgs, ClusterEndpoints, ClusterMemberInfo } from './mail-cluster-from-spec';
export type { ClientPort } from './platforms/types';
export { credentialsFromStackConfig } from './platforms';
export type { PlatformCredentials, ProxmoxCredentials, VsphereCredentials } from './platforms';
export { packageInfo } from './package-root';
export type { PackageInfo } from './package-root';
export { Hub, MailNode, Gateway, Proxy, SharedStorage, LoadBalancer } from './roles';
export { renderRuntimeConfigs, STANDARD_PORTS, LOCAL_PORTS, GUEST_PATHS } from './render';
export type { RenderedMember } from './render';
export * from './spec';
export * from './offline';
