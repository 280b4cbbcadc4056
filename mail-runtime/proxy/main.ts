import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { LoginLimiter, loginLimiterOptions } from '../auth';
import { monotonicMs } from '../common/clock';
import { createLogger } from '../common/log';
import { RuntimeConfigError, type RuntimeConfigOf } from '../config';
import { certificateSwitch, connectionLimitFromConfig, createRegistry, loadTls, registerCertificateMetrics, registerStorageMetrics, serveSessions, startHealthServer, type SessionServer } from '../net';
import { SplicedSessions, type FrontServices } from './front';
import { IMAP_REFUSALS, ImapFront } from './imap-front';
import { HubClient, HubLink, PlacementCache, SettingsAppliers, hubLoginHistory } from '../cluster';
import { POP3_REFUSALS, Pop3Front } from './pop3-front';
import { SUBMISSION_REFUSALS, SubmissionFront } from './submission-front';

type ProxyConfig = RuntimeConfigOf<'proxy'>;

export interface RunningProxy {
  imapPort: number;
  imapsPort?: number;
  pop3Port: number;
  pop3sPort?: number;
  submissionPort: number;
  smtpsPort?: number;
  healthPort: number;
  close(): Promise<void>;
}

/** Software version reported to the hub (the hub's RUNTIME_VERSION; not imported: that would load the hub's SQLite into the proxy). */
const RUNTIME_VERSION = '0.1.0';

/**
 * The placement cache file: on the member's own state path, so a proxy
 * restarted while no hub answers still routes by the last rules it saw.
 */
function placementCacheFile(cfg: Pick<ProxyConfig, 'storage' | 'memberId'>): string {
  return join(cfg.storage.path, 'members', cfg.memberId, 'placement.json');
}

function readFileField(field: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new RuntimeConfigError('runtime config', [{ path: field, message: `${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
}

/**
 * `mailfleet run --role proxy`: IMAP (plain + STARTTLS, implicit TLS) and
 * POP3 (plain + STLS, implicit TLS) front doors that route each login to
 * the node owning the mailbox, by the placement rules the hub streams
 * (cached locally); submission (587 with STARTTLS) and SMTPS (465) routed
 * the same way by the AUTH user; and a management port.
 */
/** @public Loaded lazily by ../main.ts through require(), which knip cannot follow. */
export async function runProxy(cfg: ProxyConfig, opts: { installSignalHandlers?: boolean } = {}): Promise<RunningProxy> {
  const log = createLogger({ role: 'proxy', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  const urls = cfg.hubUrls ?? (cfg.hubUrl ? [cfg.hubUrl] : []);
  if (urls.length === 0) throw new RuntimeConfigError('runtime config', [{ path: 'hubUrl', message: 'is required for the proxy role (it routes by the hub’s placement)' }]);
  if (!cfg.clusterTokenFile) throw new RuntimeConfigError('runtime config', [{ path: 'clusterTokenFile', message: 'is required for the proxy role' }]);
  const token = readFileField('clusterTokenFile', cfg.clusterTokenFile);
  if (!token) throw new RuntimeConfigError('runtime config', [{ path: 'clusterTokenFile', message: `${cfg.clusterTokenFile} is empty` }]);
  const ca = cfg.clusterTls ? readFileField('clusterTls.caFile', cfg.clusterTls.caFile) : undefined;

  const registry = createRegistry({ role: 'proxy', member: cfg.memberId });
  registerStorageMetrics(registry, cfg.storage.path);
  const sessions = new SplicedSessions();
  const placementVersion = new Gauge({ name: 'mailfleet_proxy_placement_version', help: 'Placement version the proxy routes by (-1: none yet)', registers: [registry] });
  const ended = new Counter({ name: 'mailfleet_proxy_sessions_ended_by_placement_total', help: 'Piped sessions ended because their mailbox moved to another node', registers: [registry] });
  const cache = new PlacementCache(placementCacheFile(cfg), log, (rules) => {
    placementVersion.set(rules.version);
    // A session whose user now belongs to another node (or whose node came back as a new incarnation) is over.
    const n = sessions.review((s) => {
      const node = rules.node(s.node);
      return rules.ownerOf(s.user) === s.node && node !== undefined && node.state === 'active' && node.incarnation === s.incarnation;
    });
    if (n > 0) {
      ended.inc(n);
      log.info({ ended: n, version: rules.version }, 'placement changed: sessions to nodes that lost their mailboxes ended');
    }
  });
  await cache.load();

  const logins = new Counter({ name: 'mailfleet_proxy_logins_total', help: 'Logins routed by the proxy, by protocol and outcome', labelNames: ['protocol', 'outcome'], registers: [registry] });
  const refused = new Counter({
    name: 'mailfleet_connections_refused_total',
    help: 'Client connections refused at accept: reason "total" (limits.maxConnections open) or "address" (limits.maxConnectionsPerAddress from its address)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const limits = cfg.limits;
  // The same connection policy as a node's (net/limits-from-config.ts): total, per address, login deadline, TLS handshake.
  const connections = connectionLimitFromConfig(limits, { log, count: (reason) => refused.inc({ reason }) });
  const tls = await loadTls(cfg.tls, cfg.hostname);
  if (tls.selfSigned) log.warn('no TLS certificate configured: using a generated self-signed certificate');
  registerCertificateMetrics(registry, tls);
  const appliers = new SettingsAppliers();
  appliers.on('tls', certificateSwitch(tls));
  // Failed logins per (user, client address) count over every proxy: shared through the hub, the local count first.
  const throttleClient = new HubClient({ urls, token, ...(ca ? { caPem: ca } : {}), log });
  const sharing = hubLoginHistory(throttleClient, { memberId: cfg.memberId, limits, log });
  const limiter = new LoginLimiter(loginLimiterOptions(limits), sharing.history);
  const sharedHistory = sharing.started()!;
  new Gauge({
    name: 'mailfleet_login_throttle_shared_pairs',
    help: '(user, client address) pairs at their failed-login limit counted over the whole cluster, as the hub last answered',
    registers: [registry],
    collect() {
      this.set(sharedHistory.sharedPairs);
    },
  });
  const services: FrontServices = {
    cache,
    limiter,
    log,
    plaintextAuth: cfg.plaintextAuth,
    // A getter: the cluster settings can replace the certificate live (net/tls.ts), and STARTTLS must present the current one.
    get tlsContext() {
      return tls.context;
    },
    failuresPerConnection: limits.loginFailuresPerConnection,
    backendTimeoutMs: Math.round(cfg.proxy.backendTimeoutSeconds * 1000),
    sendProxyProtocol: cfg.proxy.sendProxyProtocol,
    // With the cluster CA every node connection is TLS verified by it (front.ts openBackend): nodes present their cluster certificate by SNI.
    ...(ca ? { backendCa: ca } : {}),
    sessions,
    countLogin: (protocol, outcome) => logins.inc({ protocol, outcome }),
  };

  const servers: SessionServer[] = [];
  const closeServers = async (): Promise<void> => {
    sessions.killAll();
    await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  };
  let link: HubLink | undefined;
  try {
    const imap = await serveSessions({ kind: 'plain', ...cfg.listen.imap, limit: connections, refusal: (r) => IMAP_REFUSALS[r] }, (c) => new ImapFront(c, services));
    servers.push(imap);
    const imaps = cfg.listen.imaps ? await serveSessions({ kind: 'tls', ...cfg.listen.imaps, tls, limit: connections, refusal: (r) => IMAP_REFUSALS[r] }, (c) => new ImapFront(c, services)) : undefined;
    if (imaps) servers.push(imaps);
    const pop3 = await serveSessions({ kind: 'plain', ...cfg.listen.pop3, limit: connections, refusal: (r) => POP3_REFUSALS[r] }, (c) => new Pop3Front(c, services));
    servers.push(pop3);
    const pop3s = cfg.listen.pop3s ? await serveSessions({ kind: 'tls', ...cfg.listen.pop3s, tls, limit: connections, refusal: (r) => POP3_REFUSALS[r] }, (c) => new Pop3Front(c, services)) : undefined;
    if (pop3s) servers.push(pop3s);
    const submission = await serveSessions({ kind: 'plain', ...cfg.listen.submission, limit: connections, refusal: (r) => SUBMISSION_REFUSALS[r] }, (c) => new SubmissionFront(c, services, cfg.hostname));
    servers.push(submission);
    const smtps = cfg.listen.smtps
      ? await serveSessions({ kind: 'tls', ...cfg.listen.smtps, tls, limit: connections, refusal: (r) => SUBMISSION_REFUSALS[r] }, (c) => new SubmissionFront(c, services, cfg.hostname))
      : undefined;
    if (smtps) servers.push(smtps);

    new Gauge({
      name: 'mailfleet_proxy_sessions',
      help: 'Client sessions: all open ones, and those piped to a node',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.set({ state: 'open' }, connections.inUse);
        this.set({ state: 'piped' }, sessions.size);
      },
    });
    const health = await startHealthServer({
      host: cfg.management.host,
      port: cfg.management.port,
      // Ready once it can route: rules from the hub or from the local cache.
      ready: () => cache.version >= 0,
      registry,
      info: { role: 'proxy', member: cfg.memberId },
    });
    link = new HubLink({
      urls: [...urls],
      token,
      ...(ca ? { ca } : {}),
      cache,
      log,
      // Cluster settings applied live: `tls` (the certificate clients see); the heartbeats report the version.
      settings: (snapshot) => appliers.apply(snapshot),
      register: {
        memberId: cfg.memberId,
        role: 'proxy',
        site: cfg.site,
        version: RUNTIME_VERSION,
        advertise: cfg.advertise,
        ports: {
          imap: imap.port,
          pop3: pop3.port,
          ...(imaps ? { imaps: imaps.port } : {}),
          ...(pop3s ? { pop3s: pop3s.port } : {}),
          submission: submission.port,
          ...(smtps ? { smtps: smtps.port } : {}),
          management: health.port,
        },
      },
    });
    const hubLink = link;
    new Gauge({
      name: 'mailfleet_proxy_hub_contact_age_seconds',
      help: 'Seconds since the hub last answered (-1: never)',
      registers: [registry],
      collect() {
        this.set(hubLink.lastContact === null ? -1 : (monotonicMs() - hubLink.lastContact) / 1000);
      },
    });
    hubLink.start();
    sharedHistory.start();
    const ports = {
      imapPort: imap.port,
      ...(imaps ? { imapsPort: imaps.port } : {}),
      pop3Port: pop3.port,
      ...(pop3s ? { pop3sPort: pop3s.port } : {}),
      submissionPort: submission.port,
      ...(smtps ? { smtpsPort: smtps.port } : {}),
      healthPort: health.port,
    };
    log.info({ ...ports, placementVersion: cache.version }, 'proxy ready');
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        sharedHistory.stop();
        await hubLink.stop();
        await closeServers();
        await health.close();
      })();
      return closing;
    };
    if (opts.installSignalHandlers !== false) {
      const stop = (signal: string): void => {
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
    return { ...ports, close };
  } catch (err) {
    await link?.stop();
    await closeServers();
    throw err;
  }
}
