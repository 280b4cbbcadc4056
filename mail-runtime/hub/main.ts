import { readFileSync } from 'node:fs';
import { Counter, Gauge } from 'prom-client';
import { monotonicMs } from '../common/clock';
import { createLogger, type Logger } from '../common/log';
import { RuntimeConfigError, type RuntimeConfigOf } from '../config';
import { createRegistry, registerCertificateMetrics, registerStorageMetrics, startHealthServer } from '../net';
import { startHubApi } from './api';
import type { HubApi } from './api/server';
import type { Pem } from './ca';
import { HubError } from './errors';
import { Hub } from './hub';
import type { ClusterTiming } from './protocol';

type HubConfig = RuntimeConfigOf<'hub'>;

/** Software version members report; the hub's OpenAPI description carries it too. */
export const RUNTIME_VERSION = '0.1.0';

export interface RunningHub {
  httpPort: number;
  healthPort: number;
  url: string;
  hub: Hub;
  close(): Promise<void>;
}

/** The config's seconds as the protocol's milliseconds; the lease is dead-after minus the margin (config/schema.ts). */
export function timingOf(cfg: Pick<HubConfig, 'heartbeatSeconds' | 'deadAfterSeconds' | 'leaseMarginSeconds'>): ClusterTiming {
  const deadAfterMs = Math.round(cfg.deadAfterSeconds * 1000);
  return { heartbeatMs: Math.round(cfg.heartbeatSeconds * 1000), deadAfterMs, leaseMs: deadAfterMs - Math.round(cfg.leaseMarginSeconds * 1000) };
}

/** A secret file's content, trimmed; a missing or empty file is the operator's to fix, named by its field. */
export function readSecretFile(field: string, file: string | undefined, required: true): string;
export function readSecretFile(field: string, file: string | undefined, required: false): string | undefined;
export function readSecretFile(field: string, file: string | undefined, required: boolean): string | undefined {
  if (file === undefined) {
    if (required) throw new RuntimeConfigError('runtime config', [{ path: field, message: 'is required for this role' }]);
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new RuntimeConfigError('runtime config', [{ path: field, message: `${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  if (text === '') throw new RuntimeConfigError('runtime config', [{ path: field, message: `${file} is empty` }]);
  return text;
}

/** The hub's serving certificate from `clusterTls` (HTTPS), when the config names one. */
export function clusterTlsPem(cfg: Pick<RuntimeConfigOf<'hub'>, 'clusterTls'>): Pem | undefined {
  if (!cfg.clusterTls?.certFile) return undefined;
  return { certPem: readSecretFile('clusterTls.certFile', cfg.clusterTls.certFile, true), keyPem: readSecretFile('clusterTls.keyFile', cfg.clusterTls.keyFile, true) };
}

/**
 * The admin and cluster API on `listen.http`, started before its hub: the
 * hub needs the API's bound port for its URL. Until `attach` hands it the
 * hub, every call answers `unavailable`. Used by the hub role and by the
 * failover member's hub part.
 */
export async function startHubApiFirst(
  cfg: { listen: { http: { host: string; port: number } }; advertise: string },
  o: { tls: Pem | undefined; adminToken: string | undefined; readOnlyToken: string | undefined; clusterToken: string; log: Logger },
): Promise<{ api: HubApi; url: string; attach(hub: Hub): void }> {
  const made: { hub?: Hub } = {};
  const api = await startHubApi({
    hub: () => {
      if (!made.hub) throw new HubError('unavailable', 'the hub is starting');
      return made.hub;
    },
    host: cfg.listen.http.host,
    port: cfg.listen.http.port,
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.adminToken ? { adminToken: o.adminToken } : {}),
    ...(o.readOnlyToken ? { readOnlyToken: o.readOnlyToken } : {}),
    clusterToken: o.clusterToken,
    version: RUNTIME_VERSION,
    log: o.log,
  });
  const url = `${o.tls ? 'https' : 'http'}://${cfg.advertise.includes(':') ? `[${cfg.advertise}]` : cfg.advertise}:${api.port}`;
  return { api, url, attach: (hub) => (made.hub = hub) };
}

/**
 * `mailfleet run --role hub`: the admin and cluster API on `listen.http`
 * (HTTPS when `clusterTls` names a certificate), the management port, and
 * the hub itself, active or standby as the lease decides.
 */
export async function runHub(cfg: HubConfig, opts: { installSignalHandlers?: boolean } = {}): Promise<RunningHub> {
  const log = createLogger({ role: 'hub', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  const clusterToken = readSecretFile('clusterTokenFile', cfg.clusterTokenFile, true);
  const adminToken = readSecretFile('adminTokenFile', cfg.adminTokenFile, false);
  if (!adminToken) log.warn('no adminTokenFile: the admin API is disabled on this hub');
  const readOnlyToken = readSecretFile('readOnlyTokenFile', cfg.readOnlyTokenFile, false);
  if (readOnlyToken !== undefined && readOnlyToken === adminToken) throw new RuntimeConfigError('runtime config', [{ path: 'readOnlyTokenFile', message: 'must hold a different token than adminTokenFile' }]);
  const tls = clusterTlsPem(cfg);
  let ca: Pem | undefined;
  if (cfg.clusterCaKeyFile) {
    if (!cfg.clusterTls) throw new RuntimeConfigError('runtime config', [{ path: 'clusterTls.caFile', message: 'is required with clusterCaKeyFile (the CA certificate)' }]);
    ca = { certPem: readSecretFile('clusterTls.caFile', cfg.clusterTls.caFile, true), keyPem: readSecretFile('clusterCaKeyFile', cfg.clusterCaKeyFile, true) };
  }
  const timing = timingOf(cfg);

  const { api, url, attach } = await startHubApiFirst(cfg, { tls, adminToken, readOnlyToken, clusterToken, log });

  const registry = createRegistry({ role: 'hub', member: cfg.memberId });
  registerStorageMetrics(registry, cfg.storage.path);
  // The cluster TLS certificate members check the hub by (clusterTls): when it expires, no member reaches the hub.
  if (tls) registerCertificateMetrics(registry, { cert: tls.certPem, selfSigned: false });
  const roleChanges = new Counter({ name: 'mailfleet_hub_role_changes_total', help: 'Times this hub became active or standby', registers: [registry] });
  const h = new Hub({
    memberId: cfg.memberId,
    url,
    storageRoot: cfg.storage.path,
    timing,
    log,
    queueTakeoverMs: Math.round(cfg.gatewayQueueTakeoverSeconds * 1000),
    ...(ca ? { ca } : {}),
    memberCertificateMs: cfg.memberCertificateSeconds * 1000,
    onRoleChange: () => roleChanges.inc(),
  });
  attach(h);
  new Gauge({
    name: 'mailfleet_hub_active',
    help: '1 while this hub holds the lease',
    registers: [registry],
    collect() {
      this.set(h.isActive ? 1 : 0);
    },
  });
  const members = new Gauge({ name: 'mailfleet_hub_members', help: 'Members by role and state', labelNames: ['role', 'state'], registers: [registry] });
  const heartbeatAge = new Gauge({ name: 'mailfleet_hub_heartbeat_age_seconds', help: 'Age of the last heartbeat of each live member', labelNames: ['peer'], registers: [registry] });
  new Gauge({
    name: 'mailfleet_hub_failovers',
    help: 'Members declared dead since this hub became active (each moves what it served)',
    registers: [registry],
    collect() {
      this.set(h.isActive ? h.active().members.failovers : 0);
    },
    labelNames: [],
  });
  new Gauge({
    name: 'mailfleet_hub_placement_version',
    help: 'Committed placement version',
    registers: [registry],
    collect() {
      this.set(h.isActive ? h.active().placement.snapshot.version : 0);
      members.reset();
      heartbeatAge.reset();
      if (!h.isActive) return;
      for (const m of h.active().members.all()) {
        members.inc({ role: m.record.role, state: m.record.dead ? 'dead' : 'live' });
        if (!m.record.dead && m.heartbeatAgeMs !== null) heartbeatAge.set({ peer: m.record.id }, m.heartbeatAgeMs / 1000);
      }
    },
  });
  const started = monotonicMs();
  new Gauge({
    name: 'mailfleet_uptime_seconds',
    help: 'Seconds since this process started serving',
    registers: [registry],
    collect() {
      this.set((monotonicMs() - started) / 1000);
    },
  });
  const health = await startHealthServer({
    host: cfg.management.host,
    port: cfg.management.port,
    // Ready = active: a Service or load balancer in front of the hubs sends traffic to the active one only.
    ready: () => h.isActive,
    registry,
    info: { role: 'hub', member: cfg.memberId },
  });
  await h.start();
  log.info({ url, httpPort: api.port, healthPort: health.port, active: h.isActive }, 'hub started');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await h.stop();
      await api.close();
      await health.close();
    })();
    return closing;
  };
  if (opts.installSignalHandlers !== false) {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }
  return { httpPort: api.port, healthPort: health.port, url, hub: h, close };
}
