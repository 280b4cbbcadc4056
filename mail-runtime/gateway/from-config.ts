import { ClamdFilter, SpamFilter, type RuntimeConfigOf } from '../config';
import type { ClusterSettings } from '../hub/protocol';
import { buildFilters } from '../smtp/filters';
import type { GatewayOptions } from './start';

type GatewayConfig = RuntimeConfigOf<'gateway'>;

/**
 * RuntimeConfig (role gateway, or the gateway part of a pair member, role
 * all) → GatewayOptions. The health port is the member's management port.
 * Every default was already applied by the schema; this only moves values,
 * it decides none. A pair member has no relay listener (its node part is in
 * the process) and no load balancer sending PROXY headers.
 */
export function gatewayOptionsFromConfig(cfg: GatewayConfig | RuntimeConfigOf<'all'>): GatewayOptions {
  return {
    memberId: cfg.memberId,
    hostname: cfg.hostname,
    storagePath: cfg.storage.path,
    listen: { smtp: cfg.listen.smtp, ...(cfg.role === 'gateway' && cfg.listen.relay ? { relay: cfg.listen.relay } : {}), health: cfg.management },
    ...(cfg.clusterTokenFile ? { clusterTokenFile: cfg.clusterTokenFile } : {}),
    plaintextAuth: cfg.plaintextAuth,
    ...(cfg.tls ? { tls: cfg.tls } : {}),
    ...(cfg.clusterTls?.certFile && cfg.clusterTls.keyFile ? { relayTls: { certFile: cfg.clusterTls.certFile, keyFile: cfg.clusterTls.keyFile } } : {}),
    limits: cfg.limits,
    ...(cfg.role === 'gateway' ? { proxyFrom: cfg.proxyProtocolFrom } : {}),
    relayNetworks: cfg.relayNetworks,
    hostedDomains: cfg.hostedDomains,
    placement: { ...(cfg.placement.default ? { default: cfg.placement.default } : {}), routes: cfg.placement.routes },
    ...(cfg.directory ? { directory: { file: cfg.directory.file } } : {}),
    inbound: cfg.inbound,
    queue: cfg.queue,
    // The chain of every phase, from `filters` (authentication, clamd, spam, milters; smtp/filters/build.ts orders them).
    filters: buildFilters(cfg),
    filtersWith: (settings) => buildFilters(withFilterSettings(cfg, settings)),
    // Mail leaving the cluster: routes, smarthost, MX, TLS policy, DKIM, SRS, ARC (smtp/outbound).
    outboundSettings: cfg,
  };
}

/**
 * Fields of a gateway config whose feature this runtime does not serve yet;
 * the gateway says so in one warning at start instead of ignoring them
 * silently. The hub client (hubUrl, clusterTokenFile, advertise) is served
 * by main.ts; without a hub, `advertise` has nobody to tell.
 */
export function unservedGatewayFields(cfg: GatewayConfig): string[] {
  return cfg.hubUrl || cfg.hubUrls ? [] : [`advertise (${cfg.advertise}: announced to the hub, and no hub is configured)`];
}

/**
 * The config with the cluster settings' scanner addresses (section
 * `filters`) in place of its own: a scanner the config does not have gets
 * the schema's defaults for the rest (timeouts, scores, onError).
 */
function withFilterSettings<C extends GatewayConfig | RuntimeConfigOf<'all'>>(cfg: C, settings: ClusterSettings['filters']): C {
  if (!settings) return cfg;
  const f = cfg.filters;
  return {
    ...cfg,
    filters: {
      ...f,
      ...(settings.clamd ? { clamd: f.clamd ? { ...f.clamd, address: settings.clamd.address } : ClamdFilter.parse({ address: settings.clamd.address }) } : {}),
      ...(settings.spam ? { spam: f.spam ? { ...f.spam, ...settings.spam } : SpamFilter.parse(settings.spam) } : {}),
    },
  };
}
