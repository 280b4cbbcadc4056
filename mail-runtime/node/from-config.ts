import { readFileSync } from 'node:fs';
import { readClusterCa, readClusterToken } from '../cluster';
import type { RuntimeConfigOf } from '../config';
import { GatewayRelay, type RelayTrust } from '../smtp/submission';
import type { NodeOptions } from './start';

type NodeConfig = RuntimeConfigOf<'node'>;

/**
 * RuntimeConfig (role node, or the node part of a pair member, role all) →
 * NodeOptions. The health port is the member's management port. Every
 * default was already applied by the schema; this only moves values, it
 * decides none. A pair member has no proxies in front and no gateway to
 * relay through (its own gateway part is in the process).
 */
export function nodeOptionsFromConfig(cfg: NodeConfig | RuntimeConfigOf<'all'>): NodeOptions {
  const l = cfg.listen;
  return {
    memberId: cfg.memberId,
    hostname: cfg.hostname,
    storagePath: cfg.storage.path,
    listen: {
      imap: l.imap,
      ...(l.imaps ? { imaps: l.imaps } : {}),
      pop3: l.pop3,
      ...(l.pop3s ? { pop3s: l.pop3s } : {}),
      lmtp: l.lmtp,
      ...(l.submission ? { submission: l.submission } : {}),
      ...(l.smtps ? { smtps: l.smtps } : {}),
      health: cfg.management,
    },
    ...(cfg.tls ? { tls: cfg.tls } : {}),
    ...(cfg.role === 'node' && cfg.clusterTls?.certFile && cfg.clusterTls.keyFile ? { clusterTls: { certFile: cfg.clusterTls.certFile, keyFile: cfg.clusterTls.keyFile } } : {}),
    plaintextAuth: cfg.plaintextAuth,
    ...(cfg.directory ? { directory: { file: cfg.directory.file } } : {}),
    limits: cfg.limits,
    ...(cfg.role === 'node' ? { proxyFrom: cfg.proxyProtocolFrom, sharedFolders: { admins: cfg.sharedFolders.admins } } : {}),
    // With the cluster token the node logs in to the gateway's relay listener as itself; without, the gateway must list it in relayNetworks.
    ...(cfg.role === 'node' && cfg.gatewayRelay
      ? {
          queue: new GatewayRelay(
            splitHostPort(cfg.gatewayRelay),
            cfg.hostname,
            cfg.clusterTokenFile ? { user: cfg.memberId, pass: readClusterToken(cfg, 'to log in to the gateway relay') } : undefined,
            // The gateway's relay certificate is checked against the cluster CA; without one, against the cluster's own public certificate and the system roots.
            relayTrust(cfg),
          ),
        }
      : {}),
  };
}

/**
 * What a gateway's relay certificate must chain to:
 * - with the cluster CA (`clusterTls.caFile`; the components always give
 *   one outside the local cluster): that CA alone. Every gateway presents
 *   its certificate from it on the relay listener (`clusterTls.certFile`,
 *   gateway/from-config.ts), naming its member id and address.
 * - without one (a cluster built without the tls provider, or by hand):
 *   this member's public certificate when it has one on disk (the
 *   components give every member the same one, so with `tls.mode:
 *   self-signed` the gateways present exactly it) and the system roots (a
 *   publicly issued one). This fallback exists only where no cluster CA does.
 * - neither: undefined (GatewayRelay: system roots, loopback unverified).
 */
function relayTrust(cfg: RuntimeConfigOf<'node'> | RuntimeConfigOf<'all'>): RelayTrust | undefined {
  const ca = readClusterCa(cfg);
  if (ca) return { pems: [ca], systemRoots: false, what: 'the cluster CA (clusterTls.caFile)' };
  if (!cfg.tls?.certFile) return undefined;
  try {
    return { pems: [readFileSync(cfg.tls.certFile, 'utf8')], systemRoots: true, what: "this cluster's own certificate (tls.certFile; no cluster CA configured) and the system roots" };
  } catch {
    // Not written yet (generateIfMissing) or unreadable: the system roots remain.
    return undefined;
  }
}

/** `host:port` or `[v6]:port`, already checked by the schema. */
function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

