import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram } from 'prom-client';
import { FileDirectory, LoginLimiter, StaticDirectory, type Directory } from '../auth';
import { LatencyWindow } from '../common/latency-window';
import { RuntimeLimits } from '../config';
import { createLogger, type Logger } from '../common/log';
import { readClusterToken } from '../cluster';
import {
  connectionLimitFromConfig,
  createRegistry,
  certificateSwitch,
  loadTls,
  registerCertificateMetrics,
  registerStorageMetrics,
  startHealthServer,
  type ClientConnectionLimits,
  type HealthServer,
  type PlaintextAuthPolicy,
  type TlsFiles,
} from '../net';
import { LmtpPool, QueueRunner, type DsnBuilder } from '../smtp/delivery';
import type { Filter } from '../smtp/filters/types';
import { INBOUND_LIMITS, MessageRate, startMxListener, type MxListener, type MxListenerOptions } from '../smtp/inbound';
import { SmtpOutbound, Srs, buildDsn, type OutboundSettings, type OutboundTransport } from '../smtp/outbound';
import { QueueFolder } from '../smtp/queue';
import { StaticRouter, type Router, type StaticPlacement } from '../smtp/routing';
import type { ClusterSettings, SettingsSnapshot } from '../hub/protocol';
import { GatewaySettings } from './settings';

export interface HostPort {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
}

/**
 * Everything a gateway needs, already validated: gatewayOptionsFromConfig()
 * builds it from RuntimeConfig, whose schema decides every default.
 */
export interface GatewayOptions {
  memberId: string;
  /** Greeting, Received `by`, LHLO name. */
  hostname: string;
  /** Storage root; the queue under `<path>/queue/<memberId>/`. */
  storagePath: string;
  /** `relay`: the members-only submission-relay listener (AUTH PLAIN with the cluster token). */
  listen: { smtp: HostPort; relay?: HostPort; health: HostPort };
  /** The cluster token file; required with `listen.relay`. */
  clusterTokenFile?: string;
  /** Config `plaintextAuth`: where the relay listener allows AUTH without TLS. */
  plaintextAuth?: PlaintextAuthPolicy;
  /** Certificate for STARTTLS; a self-signed one is generated when absent. */
  tls?: TlsFiles;
  /**
   * The relay listener's certificate (config `clusterTls.certFile`/`keyFile`,
   * issued by the cluster CA for this member's internal names), which nodes
   * verify against `clusterTls.caFile`. Absent: the relay presents `tls`.
   */
  relayTls?: TlsFiles;
  /** Config `limits`: message size, and the connection bounds every listener shares (net/connectionLimitFromConfig). */
  limits: ClientConnectionLimits & { maxMessageBytes: number; loginFailuresPerConnection: number } & Partial<RelayLoginLimits>;
  /** Trusted load balancers (CIDR) whose connections start with a PROXY v2 header naming the client (config `proxyProtocolFrom`). */
  proxyFrom?: readonly string[];
  relayNetworks: readonly string[];
  hostedDomains: readonly string[];
  placement: StaticPlacement;
  /** Users and aliases (a directory object, or the users file). None: no hosted user exists. */
  directory?: Directory | { file: string };
  inbound: { maxRecipients: number; messagesPerAddressPerMinute: number; idleTimeoutSeconds: number; relayMessagesPerMemberPerMinute: number };
  queue: { retryFirstSeconds: number; retryMaxSeconds: number; expireHours: number; deliveryConcurrency: number };
  /** The filter chain, every phase (smtp-filters builds it from RuntimeConfig `filters`). */
  filters?: readonly Filter[];
  /**
   * The chain again with the cluster settings' filter addresses (section
   * `filters`: clamd, spam) over RuntimeConfig's, or RuntimeConfig's alone
   * for `undefined`; without it that section is not applied.
   */
  filtersWith?: (settings: ClusterSettings['filters']) => Filter[];
  /** The config the outbound transport (smtp/outbound SmtpOutbound) is built from: next hops, TLS policy, DKIM, SRS, ARC. */
  outboundSettings?: OutboundSettings;
  /** Mail for non-hosted domains; default: SmtpOutbound from `outboundSettings` (none: remote mail stays deferred). */
  outbound?: OutboundTransport;
  /** RFC 3464 bounces; default: smtp/outbound's buildDsn. */
  buildDsn?: DsnBuilder;
  /** Replaces the static router (the hub's placement, issue 12). */
  router?: Router;
  /**
   * The queue folder this gateway owns (`<storage>/queue/<folder>/`);
   * default its member id. A cluster gateway whose folder was taken over
   * while it was gone starts on another (./queue-folders.ts).
   */
  queueFolder?: string;
  /** Longest message line (INBOUND_LIMITS.textLineBytes); tests lower it. */
  maxLineBytes?: number;
  /** How often operator requests are picked up (2 s); tests lower it. */
  controlPollMs?: number;
  log?: Logger;
}

export interface RunningGateway {
  smtpPort: number;
  /** The relay listener's port, when `listen.relay` is set. */
  relayPort?: number;
  healthPort: number;
  /** The gateway's own queue folder. */
  queue: QueueFolder;
  runner: QueueRunner;
  /**
   * The performance figures this gateway sends with its heartbeats
   * (hub/protocol PERF_STATS): messages accepted, recipients delivered to
   * other MTAs, queue depth, delivery latency p50/p99 over recent deliveries,
   * open SMTP sessions.
   */
  stats(): Record<string, number>;
  /**
   * Takes over another gateway's queue folder at a higher epoch (that
   * gateway is fenced from then on) and delivers its entries. The hub
   * decides when (issue 12); returns how many entries were adopted.
   */
  takeOver(folder: string, epoch?: number): Promise<number>;
  /** Queue folders this gateway delivers from now: its own first, then those it took over. */
  folders(): string[];
  /**
   * Applies cluster settings live (./settings.ts: blocklist, connection
   * cap); resolves once applied, throws when a section cannot be.
   */
  applySettings(snapshot: SettingsSnapshot): Promise<void>;
  /** 421 to every session, stop delivering (in-flight attempts record their results), close. */
  close(): Promise<void>;
}

/** The `limits` the relay listener's AUTH limiter reads (config/schema.ts RuntimeLimits decides each default). */
type RelayLoginLimits = Pick<RuntimeLimits, 'loginFailuresPerAddress' | 'loginFailureWindowSeconds' | 'loginFailuresPerUser' | 'loginUserDelayMaxMs' | 'loginPairDelayMs'>;

/**
 * The relay listener's AUTH limiter (auth/): failures per client address in
 * the window, as the node's logins; every member counts as one user.
 */
function relayLoginLimiter(limits: Partial<RelayLoginLimits>): LoginLimiter {
  const d = RuntimeLimits.parse(undefined);
  const perAddress = limits.loginFailuresPerAddress ?? d.loginFailuresPerAddress;
  return new LoginLimiter({
    perAddress,
    // One identity: the pair limit is the address limit.
    perUserAddress: perAddress,
    perUser: limits.loginFailuresPerUser ?? d.loginFailuresPerUser,
    windowMs: (limits.loginFailureWindowSeconds ?? d.loginFailureWindowSeconds) * 1000,
    userDelayMaxMs: limits.loginUserDelayMaxMs ?? d.loginUserDelayMaxMs,
    pairDelayMs: limits.loginPairDelayMs ?? d.loginPairDelayMs,
  });
}

function isDirectory(d: GatewayOptions['directory']): d is Directory {
  return typeof d === 'object' && d !== null && 'lookup' in d;
}

/**
 * The runner's DSN builder on smtp/outbound's buildDsn (RFC 3464): a
 * multipart/report from MAILER-DAEMON with the original (or its header, past
 * the size bound or with RET=HDRS). The runner never asks for one for the
 * null sender, so `null` cannot come back.
 */
const rfc3464Dsn: DsnBuilder = ({ entry, failed, message, reportingMta }) => {
  const dsn = buildDsn(
    entry,
    failed.map((f) => ({ address: f.address, lastReply: f.reply })),
    message,
    { reportingMta, arrivalDate: new Date(entry.receivedAt), expired: failed.some((f) => / 4\.4\.7 | 5\.4\.7 /.test(f.reply)) },
  );
  if (!dsn) throw new Error('no DSN for the null sender');
  return dsn.message;
};

/** Connections an LMTP pool keeps per node: enough for the delivery concurrency, no more. */
const LMTP_PER_NODE_FLOOR = 4;

/**
 * Delivery latency buckets (seconds): sub-second for the LMTP hop to a node,
 * up to hours for mail that waited in the queue for retries (RFC 5321
 * section 4.5.4.1: a sender keeps retrying for 4-5 days; anything slower
 * than a day lands in +Inf).
 */
const DELIVERY_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];

/** Starts the gateway role: the inbound MX, its queue and the delivery workers, and the health endpoint. */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const log = opts.log ?? createLogger({ role: 'gateway', member: opts.memberId });
  let ready = false;
  const registry = createRegistry({ role: 'gateway', member: opts.memberId });
  registerStorageMetrics(registry, opts.storagePath);
  let queue: QueueFolder | undefined;
  const health: HealthServer = await startHealthServer({
    host: opts.listen.health.host,
    port: opts.listen.health.port,
    // Not ready once our folder was taken over: we would answer 451 to everything.
    ready: () => ready && queue !== undefined && !queue.owner.fenced,
    registry,
    info: { role: 'gateway', member: opts.memberId },
  });
  const closers: (() => Promise<void>)[] = [() => health.close()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.warn({ err }, 'close failed'));
  };
  try {
    const tls = await loadTls(opts.tls, opts.hostname);
    if (tls.selfSigned) log.warn('no TLS certificate configured: STARTTLS uses a generated self-signed certificate');
    registerCertificateMetrics(registry, tls);
    let directory: Directory;
    if (isDirectory(opts.directory)) directory = opts.directory;
    else if (opts.directory) directory = await FileDirectory.open({ file: opts.directory.file, log });
    else {
      if (!opts.router) log.warn('no directory configured: every hosted recipient is refused as unknown (550 5.1.1)');
      directory = StaticDirectory.fromText('users: []');
    }
    const router = opts.router ?? new StaticRouter({ hostedDomains: opts.hostedDomains, directory, placement: opts.placement });
    if (!opts.router && !opts.placement.default && Object.keys(opts.placement.routes).length === 0) {
      log.warn('no placement configured: hosted recipients are answered 451 4.3.0 until a node is placed (RuntimeConfig placement)');
    }

    queue = await QueueFolder.claim({ storagePath: opts.storagePath, folder: opts.queueFolder ?? opts.memberId, memberId: opts.memberId, log });
    const own = queue;
    const folders: QueueFolder[] = [own];
    closers.push(async () => {
      for (const f of folders) await f.close();
    });
    const expireMs = Math.round(opts.queue.expireHours * 3600 * 1000);

    const deliveries = new Counter({
      name: 'mailfleet_queue_deliveries_total',
      help: 'Recipient delivery attempts by result (delivered, deferred, failed) and path (lmtp, outbound, queue: expiry)',
      labelNames: ['status', 'via'] as const,
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'mailfleet_queue_delivery_seconds',
      help: 'Seconds from acceptance at a gateway (the queue entry\'s receivedAt) to delivery of one recipient, by path (lmtp: to a node; outbound: to a remote MX), retries included',
      labelNames: ['via'] as const,
      buckets: DELIVERY_LATENCY_BUCKETS,
      registers: [registry],
    });
    // The heartbeat's figures (stats() below); Prometheus has the same as counters and a histogram.
    const perf = { messagesIn: 0, messagesOut: 0, latency: new LatencyWindow() };
    const lmtp = new LmtpPool({ hostname: opts.hostname, maxPerTarget: Math.max(LMTP_PER_NODE_FLOOR, opts.queue.deliveryConcurrency), log });
    closers.push(() => lmtp.close());
    const outbound = opts.outbound ?? (opts.outboundSettings ? await SmtpOutbound.create(opts.outboundSettings, { logger: log }) : undefined);
    if (!outbound) log.warn('no outbound transport: mail for domains not hosted here stays queued and bounces at expiry');
    const runner = new QueueRunner({
      folder: own,
      router,
      lmtp,
      ...(outbound ? { outbound } : {}),
      buildDsn: opts.buildDsn ?? rfc3464Dsn,
      hostname: opts.hostname,
      concurrency: opts.queue.deliveryConcurrency,
      retry: { firstMs: opts.queue.retryFirstSeconds * 1000, maxMs: opts.queue.retryMaxSeconds * 1000 },
      expireMs,
      ...(opts.controlPollMs ? { controlPollMs: opts.controlPollMs } : {}),
      log,
      metrics: {
        result: (status, via) => {
          deliveries.inc({ status, via });
          if (status === 'delivered' && via === 'outbound') perf.messagesOut++;
        },
        delivered: (via, seconds) => {
          latency.observe({ via }, seconds);
          perf.latency.observe(seconds * 1000);
        },
      },
    });
    closers.push(() => runner.stop());
    await runner.start();

    const transactions = new Counter({
      name: 'mailfleet_smtp_transactions_total',
      help: 'Inbound SMTP transactions by outcome and the phase that decided it',
      labelNames: ['outcome', 'phase'] as const,
      registers: [registry],
    });
    const refused = new Counter({
      name: 'mailfleet_smtp_connections_refused_total',
      help: 'Inbound SMTP connections refused at accept time (total: limits.maxConnections; address: limits.maxConnectionsPerAddress)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    // The member's shared bounds (net/), as a node's and the proxy's; no login deadline: MX sessions never log in, SMTP's own timeouts bound them.
    const connections = connectionLimitFromConfig(opts.limits, { log, count: (reason) => refused.inc({ reason }), loginDeadline: false });
    // Bounces to the SRS addresses our outbound transport wrote go back to the senders they stand for (inbound/rcpt-to.ts).
    const srsConfig = opts.outboundSettings?.outbound.srs;
    const srs = srsConfig ? await Srs.fromConfig(srsConfig) : undefined;
    // Cluster settings applied live: the blocklist is the MX's first filter; the connection cap is the shared bound's.
    // The MX's chain: the settings' blocklist first, then the configured filters. The MX reads this array at every phase and
    // runFilters walks a copy, so replacing entries in place switches filters for the next phase, never in the middle of one.
    const mxFilters: Filter[] = [];
    // The MX and relay listeners the size limit goes to (they start below, with the value in force then).
    const sized: MxListener[] = [];
    let maxMessageBytes = opts.limits.maxMessageBytes;
    const settings = new GatewaySettings({
      setMaxConnections: (max) => {
        connections.max = max ?? opts.limits.maxConnections;
      },
      // Never above the configured limit (as on nodes, node/start.ts applyLimits): the nodes' LMTP and stores were sized
      // from their configuration at start, and a gateway that took more would accept mail it then bounces.
      setMaxMessageBytes: (max) => {
        maxMessageBytes = Math.min(max ?? opts.limits.maxMessageBytes, opts.limits.maxMessageBytes);
        for (const l of sized) l.setMaxMessageBytes(maxMessageBytes);
      },
      ...(opts.filtersWith
        ? {
            setFilters: (f) => {
              mxFilters.splice(1, mxFilters.length - 1, ...opts.filtersWith!(f));
            },
          }
        : {}),
      setTls: certificateSwitch(tls),
      setDkimKeys: (keys) => {
        if (outbound?.setClusterDkimKeys) outbound.setClusterDkimKeys(keys);
        else if (keys && Object.keys(keys).length > 0) log.warn('cluster settings carry DKIM keys, but this gateway has no outbound transport that signs');
      },
    });
    mxFilters.push(settings.filter, ...(opts.filters ?? []));
    const metrics: MxListenerOptions['metrics'] = {
      outcome: (outcome, phase) => {
        transactions.inc({ outcome, phase });
        if (outcome === 'accepted') perf.messagesIn++;
      },
    };
    const mxCommon = {
      hostname: opts.hostname,
      router,
      queue: own,
      relayNetworks: opts.relayNetworks,
      maxMessageBytes,
      maxLineBytes: opts.maxLineBytes ?? INBOUND_LIMITS.textLineBytes,
      expireMs,
      maxRecipients: opts.inbound.maxRecipients,
      idleTimeoutMs: opts.inbound.idleTimeoutSeconds * 1000,
      connections,
      ...(srs ? { srs } : {}),
      ...(opts.proxyFrom ? { proxyFrom: opts.proxyFrom } : {}),
      tls,
      log,
      metrics,
    };
    const mx: MxListener = await startMxListener({
      ...mxCommon,
      host: opts.listen.smtp.host,
      port: opts.listen.smtp.port,
      filters: mxFilters,
      messageRate: new MessageRate(opts.inbound.messagesPerAddressPerMinute),
    });
    sized.push(mx);
    closers.push(() => mx.close());
    let relay: MxListener | undefined;
    if (opts.listen.relay) {
      // Members only: the cluster token is the password (the node sends its member id as the user name, for logs).
      const token = createHash('sha256').update(readClusterToken(opts, 'with listen.relay (members log in to the relay listener with it)')).digest();
      const relayTls = opts.relayTls ? await loadTls(opts.relayTls, opts.hostname) : tls;
      // The relay listener is dialled by members directly, never through the load balancer: no PROXY header is expected there whatever `proxyFrom` trusts.
      const { proxyFrom: _lbOnly, ...relayCommon } = mxCommon;
      relay = await startMxListener({
        ...relayCommon,
        tls: relayTls,
        host: opts.listen.relay.host,
        port: opts.listen.relay.port,
        relay: {
          verify: (_user, password) => timingSafeEqual(createHash('sha256').update(password).digest(), token),
          plaintextAuth: opts.plaintextAuth ?? 'loopback',
          failuresPerConnection: opts.limits.loginFailuresPerConnection,
          limiter: relayLoginLimiter(opts.limits),
        },
        // The node checked the user and the sender; inbound filters (SPF, spam) judge mail from outside, not ours.
        filters: [],
        // Keyed by the logged-in member, not its address (mail-from.ts): one node relays all of its users' outside mail.
        messageRate: new MessageRate(opts.inbound.relayMessagesPerMemberPerMinute),
      });
      const r = relay;
      sized.push(r);
      closers.push(() => r.close());
    }

    new Gauge({
      name: 'mailfleet_smtp_sessions',
      help: 'Open inbound SMTP sessions',
      registers: [registry],
      collect() {
        this.set(mx.sessions());
      },
    });
    new Gauge({
      name: 'mailfleet_queue_entries',
      help: 'Queued messages not yet finished, over every folder this gateway delivers',
      registers: [registry],
      collect() {
        this.set(runner.size);
      },
    });
    new Gauge({
      name: 'mailfleet_queue_fsyncs',
      help: 'fsyncs of the own queue folder since start (file, dir) and group commits (commit), each covering many writes',
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        this.set({ kind: 'file' }, own.stats.files);
        this.set({ kind: 'dir' }, own.stats.dirs);
        this.set({ kind: 'commit' }, own.stats.commits);
      },
    });

    ready = true;
    log.info({ smtpPort: mx.port, healthPort: health.port, queueEpoch: own.epoch, queued: runner.size }, 'gateway ready');
    let closing: Promise<void> | undefined;
    return {
      smtpPort: mx.port,
      ...(relay ? { relayPort: relay.port } : {}),
      healthPort: health.port,
      queue: own,
      runner,
      stats: () => {
        const [p50, p99] = perf.latency.quantiles([0.5, 0.99]);
        return {
          messagesIn: perf.messagesIn,
          messagesOut: perf.messagesOut,
          queueDepth: runner.size,
          ...(p50 !== null && p50 !== undefined ? { deliveryP50Ms: Math.round(p50) } : {}),
          ...(p99 !== null && p99 !== undefined ? { deliveryP99Ms: Math.round(p99) } : {}),
          smtpSessions: mx.sessions() + (relay?.sessions() ?? 0),
        };
      },
      takeOver: async (folder, epoch) => {
        const taken = await QueueFolder.claim({ storagePath: opts.storagePath, folder, memberId: opts.memberId, ...(epoch !== undefined ? { epoch } : {}), log });
        folders.push(taken);
        return runner.adopt(taken, { now: true });
      },
      folders: () => folders.map((f) => f.name),
      applySettings: (snapshot) => settings.apply(snapshot),
      close: () => {
        ready = false;
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
