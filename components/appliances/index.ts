/**
 * The security appliances mailfleet deploys beside the gateways
 * (filters.antivirus.deploy → clamd with freshclam, filters.spam.deploy →
 * rspamd): pinned images, configuration files and sizes, shared by every
 * platform adapter. Where they run and which gateways use them is
 * components/render.ts (renderAppliances); how each platform runs them is
 * platforms/<kind>/appliances.ts.
 */
export { appliancePlan, applianceVms, APPLIANCE_SIZES, SIGNATURE_VOLUME_GIB } from './plan';
export type { ClamdPlan, RspamdPlan } from './plan';
export { CLAMD_IMAGE, RSPAMD_IMAGE, CLAMAV_UID, RSPAMD_UID } from './images';
export { CLAMAV_PATHS, clamdLimits } from './clamav';
export { RSPAMD_NETWORK_MODULES } from './rspamd';
