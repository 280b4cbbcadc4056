/** A failover pair's sites: what FailoverSite (../failover-site.ts) builds on each platform. */
export { PRIMARY_OUTPUTS, PrimaryFacts, parsePrimaryFacts } from './contract';
export { renderControllerConfig } from './controller';
export { dockerSite } from './docker';
export { kubernetesSite } from './kubernetes';
export { proxmoxSite } from './proxmox';
export { vsphereSite } from './vsphere';
export type { SiteBuild, SiteContext, SiteSettings } from './types';
