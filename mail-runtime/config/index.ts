/**
 * RuntimeConfig: what one member process reads, and the validation vocabulary
 * the topology spec shares with it. This index is the only part of
 * mail-runtime that components/ may import (DESIGN.md: the runtime never
 * imports Pulumi; components render RuntimeConfig so a stack can never deploy
 * a config the runtime would reject).
 */
export { ClamdFilter, ClusterLimits, MAX_HUB_URLS, RuntimeConfig, RuntimeLimits, RUNTIME_ROLES, SpamFilter } from './schema';
export type { RuntimeRole, RuntimeConfigInput, RuntimeConfigOf } from './schema';
export { loadRuntimeConfig, parseRuntimeConfig, readConfigFile } from './load';
export { ConfigFileError, FieldProblemsError, RuntimeConfigError, cidrContains, dnsLabel, domainName, hostPort, intToIpv4, ipv4, ipv4Cidr, ipv4ToInt, port, problemsFromZod, strict } from './validation';
export { PowerTarget } from './power';
export type { PowerTargetOf } from './power';
