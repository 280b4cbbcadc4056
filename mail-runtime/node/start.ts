import { Counter, Gauge, type Registry } from 'prom-client';
import { Authenticator, CredentialCache, FileDirectory, LoginLimiter, PasswordCheckPool, StaticDirectory, loginLimiterOptions, passwordCheckOptions, type Directory, type LoginHistory } from '../auth';
import { createLogger, type Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { startImapServer, type ImapServer, type ImapServices } from '../imap';
import { analyzeMessage } from '../imap/message';
import { SEARCH_FIELDS } from '../imap/search';
import { certificateSwitch, clusterCertificateSwitch, connectionLimitFromConfig, createRegistry, loadTls, registerCertificateMetrics, withClusterIdentity, registerStorageMetrics, startHealthServer, type HealthServer, type PlaintextAuthPolicy, type TlsFiles } from '../net';
import { startPop3Server, type Pop3Server } from '../pop3';
import { SMTP_LIMITS, type SmtpListener } from '../smtp/common';
import { startLmtpServer, type OwnsMailbox } from '../smtp/lmtp';
import type { QueueWriter } from '../smtp/queue/types';
import type { Router } from '../smtp/routing/types';
import { nodemailerPeers, startSubmissionServer, type PeerDelivery } from '../smtp/submission';
import { MailStore } from '../store';
import { storeDelivery } from './delivery';
import { storeMailboxProvider, storePop3Backend, type EpochSource, type SharedFolderOptions } from './mailboxes';
import { directoryRouter } from './routing';

export interface HostPort {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
}

/**
 * Everything a node needs, already validated: nodeOptionsFromConfig() builds
 * it from RuntimeConfig, whose schema decides every default, so nothing here
 * has a default of its own.
 */
export interface NodeOptions {
  memberId: string;
  /** Greeting and certificate name. */
  hostname: string;
  /** Storage root; mail under `<path>/mail/`. */
  storagePath: string;
  listen: {
    imap: HostPort;
    /** Implicit TLS (RFC 8314). */
    imaps?: HostPort;
    pop3: HostPort;
    pop3s?: HostPort;
    /**
     * RFC 2033 LMTP, where gateways deliver. Cluster-internal: no
     * authentication, never reachable from outside (network policy).
     */
    lmtp: HostPort;
    /** RFC 6409 submission with STARTTLS (587). */
    submission?: HostPort;
    /** RFC 8314 submission over implicit TLS (465). */
    smtps?: HostPort;
    /** `/healthz`, `/readyz`, `/metrics`. */
    health: HostPort;
  };
  /** Certificate files; a self-signed certificate is generated when absent. */
  tls?: TlsFiles;
  /**
   * This node's certificate from the cluster CA (config
   * `clusterTls.certFile`/`keyFile`), naming its member id: the implicit-TLS
   * listeners present it to a client that asks for the member id by SNI
   * (the proxies' backend hop), the public certificate to everyone else
   * (net/tls.ts withClusterIdentity).
   */
  clusterTls?: TlsFiles;
  /** Where LOGIN / USER+PASS / AUTH PLAIN are allowed without TLS. */
  plaintextAuth: PlaintextAuthPolicy;
  /** Users: a directory object (hub client later) or a local users file. None: nobody can log in. */
  directory?: Directory | { file: string };
  /** The `Shared/` namespace's administrators per domain (config `sharedFolders`); absent: none. */
  sharedFolders?: SharedFolderOptions;
  /** Owner epoch per mailbox; default 1 until placement supplies real epochs. */
  epochFor?: EpochSource;
  /**
   * Does this node serve a mailbox now (LMTP answers 450 4.2.0 when not,
   * submission hands it on)? Also the store's lease check after every
   * durable write (IMAP, POP3, delivery). Default: every local user, until
   * the hub's placement (issue 12) supplies it.
   */
  owns?: OwnsMailbox;
  /** Where submitted mail goes; default: the directory's users are hosted here, the rest is outside. */
  router?: Router;
  /** The outbound queue submission hands outside mail to; without one, outside recipients are refused (451 4.3.5). */
  queue?: QueueWriter;
  /** LMTP to another node for a hosted mailbox it owns; default nodemailer's LMTP client. */
  peers?: PeerDelivery;
  /** Config `limits`: message and literal sizes, connections (over all client listeners), login failures and timeout, password checks. */
  limits: RuntimeConfigOf<'node'>['limits'];
  /**
   * Where the login limiter remembers failures: default its own memory; in
   * a cluster the hub-shared history (cluster/hubLoginHistory), so failures
   * of a (user, source) pair count on every node and proxy alike.
   */
  loginHistory?: (local: LoginHistory) => LoginHistory;
  /** Networks of the proxies in front (config `proxyProtocolFrom`): their client connections start with a PROXY v2 header. */
  proxyFrom?: readonly string[];
  /** Autologout override for tests (otherwise LIMITS.imapIdleTimeoutMs, RFC 3501 §5.4). */
  imapIdleTimeoutMs?: number;
  /** Its lines should carry role and member (runNode adds cluster and site); default: a new process logger. */
  log?: Logger;
}

export interface RunningNode {
  imapPort: number;
  imapsPort?: number;
  pop3Port: number;
  pop3sPort?: number;
  lmtpPort: number;
  submissionPort?: number;
  smtpsPort?: number;
  healthPort: number;
  store: MailStore;
  /**
   * Limits applied live (cluster settings, node/cluster.ts): the connection
   * cap, and the message size up to the store's cap from start.
   */
  applyLimits(l: { maxConnections?: number; maxMessageBytes?: number }): void;
  /** The public certificate applied live (cluster settings `tls`; undefined: the configured one again); throws on a pair it cannot use. */
  applyTls(pair: { certPem: string; keyPem: string } | undefined): void;
  /** The `Shared/` administrators applied live (cluster settings `sharedFolders`; undefined: the configured ones again). */
  applySharedFolders(o: SharedFolderOptions | undefined): void;
  /**
   * The cluster identity applied live (the hub-issued member certificate,
   * cluster/member-certificate.ts; undefined: the configured
   * `clusterTls.certFile` again, or none); throws on a pair it cannot use.
   */
  applyClusterCertificate(pair: { certPem: string; keyPem: string } | undefined): void;
  /** Prometheus registry of `/metrics`, for the cluster layer's gauges. */
  registry: Registry;
  /** Open sessions per protocol now (the hub's dashboard charts them from heartbeats). */
  sessions(): { imap: number; pop3: number; lmtp: number; submission: number };
  /** Messages delivered into this node's mailboxes since start (LMTP and submission; one per recipient), for the heartbeat's `messagesIn`. */
  messagesIn(): number;
  /** BYE to every session, stop listeners, flush the store. */
  close(): Promise<void>;
}

const VERSION = '0.1.0';

function isDirectory(d: NodeOptions['directory']): d is Directory {
  return typeof d === 'object' && d !== null && 'authenticate' in d;
}

/** Starts the node role: IMAP(+IMAPS), POP3(+POP3S), LMTP, submission (587/465) and the health endpoint on one store. */
export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const log = opts.log ?? createLogger({ role: 'node', member: opts.memberId });
  const { hostname, plaintextAuth, limits } = opts;
  let ready = false;
  const registry = createRegistry({ role: 'node', member: opts.memberId });
  registerStorageMetrics(registry, opts.storagePath);
  const health: HealthServer = await startHealthServer({
    host: opts.listen.health.host,
    port: opts.listen.health.port,
    ready: () => ready,
    registry,
    info: { role: 'node', member: opts.memberId },
  });
  const closers: (() => Promise<void>)[] = [() => health.close()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.warn({ err }, 'close failed'));
  };
  try {
    const publicTls = await loadTls(opts.tls, hostname);
    if (publicTls.selfSigned) log.warn('no TLS certificate configured: using a generated self-signed certificate');
    // Without a cluster certificate file the member id gets the public certificate until the hub issues one (applyClusterCertificate).
    const tls = await withClusterIdentity(publicTls, opts.clusterTls, [opts.memberId]);
    registerCertificateMetrics(registry, tls);
    const applyTls = certificateSwitch(tls);
    const applyClusterCertificate = clusterCertificateSwitch(tls);
    let directory: Directory;
    if (isDirectory(opts.directory)) directory = opts.directory;
    else if (opts.directory) directory = await FileDirectory.open({ file: opts.directory.file, log });
    else {
      log.warn('no directory configured: nobody can log in');
      directory = StaticDirectory.fromText('users: []');
    }
    const logins = new Counter({
      name: 'mailfleet_logins_total',
      help: 'Login attempts by result: ok, failed (wrong credentials), throttled (failure limits), busy (no password check within limits.passwordCheckQueueMs), unavailable',
      labelNames: ['result'],
      registers: [registry],
    });
    const busy = new Counter({
      name: 'mailfleet_password_checks_refused_total',
      help: 'Logins refused because no password-check worker would be free within limits.passwordCheckQueueMs, by queue priority',
      labelNames: ['priority'],
      registers: [registry],
    });
    const passwords = new PasswordCheckPool(passwordCheckOptions(limits), (priority) => busy.inc({ priority }));
    new Counter({
      name: 'mailfleet_password_hashes_total',
      help: 'Password hashes computed (logins of unknown users compute none)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(passwords.stats().hashes);
      },
    });
    new Gauge({
      name: 'mailfleet_password_checks',
      help: 'Password checks running and queued, and the pool size (limits.passwordCheckWorkers)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const st = passwords.stats();
        this.set({ state: 'running' }, st.running);
        this.set({ state: 'queued' }, st.queued);
        this.set({ state: 'workers' }, st.workers);
      },
    });
    const credentials = new CredentialCache(limits.credentialCacheSeconds * 1000);
    new Counter({
      name: 'mailfleet_credential_cache_hits_total',
      help: 'Logins whose password was answered from the verified-credential cache (limits.credentialCacheSeconds) instead of a new hash',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(credentials.stats().hits);
      },
    });
    const auth = new Authenticator(directory, new LoginLimiter(loginLimiterOptions(limits), opts.loginHistory), log, {
      failuresPerConnection: limits.loginFailuresPerConnection,
      passwords,
      credentials,
      onOutcome: (result) => logins.inc({ result }),
    });
    // Two hops' header fields above the client limit: a message accepted at the edge at the limit still fits once the gateway and LMTP have added theirs (SMTP_LIMITS.hopHeaderBytes).
    const store = new MailStore({ root: opts.storagePath, maxMessageBytes: limits.maxMessageBytes + 2 * SMTP_LIMITS.hopHeaderBytes, analyze: analyzeMessage, searchFields: SEARCH_FIELDS, logger: log });
    closers.push(() => store.close());
    const owns = opts.owns ?? (() => true);
    const placement = { epochOf: opts.epochFor ?? (() => 1), owns };
    const mailboxes = storeMailboxProvider(store, placement, directory, opts.sharedFolders);
    const services: ImapServices = {
      auth,
      mailboxes,
      tls,
      plaintextAuth,
      hostname,
      log,
      version: VERSION,
      limits: { maxMessageBytes: limits.maxMessageBytes, imapLiteralBytes: limits.imapLiteralBytes, imapAppendMessages: limits.imapAppendMessages },
    };
    // One set of limits for every client listener: the bounds are the process's.
    const refused = new Counter({
      name: 'mailfleet_connections_refused_total',
      help: 'Client connections refused at accept: reason "total" (limits.maxConnections open) or "address" (limits.maxConnectionsPerAddress from its address)',
      labelNames: ['reason'],
      registers: [registry],
    });
    const connections = connectionLimitFromConfig(limits, { log, count: (reason) => refused.inc({ reason }) });
    const proxyFrom = opts.proxyFrom ?? [];
    const imapCommon = { services, connections, proxyFrom, idleTimeoutMs: opts.imapIdleTimeoutMs };
    const imap = await startImapServer({ ...imapCommon, kind: 'plain', ...opts.listen.imap });
    closers.push(() => imap.close());
    let imaps: ImapServer | undefined;
    if (opts.listen.imaps) {
      imaps = await startImapServer({ ...imapCommon, kind: 'tls', ...opts.listen.imaps });
      closers.push(() => (imaps as ImapServer).close());
    }
    const pop3Common = { auth, backend: storePop3Backend(store, placement), tls, plaintextAuth, log, hostname, connections, proxyFrom };
    const pop3 = await startPop3Server({ ...pop3Common, kind: 'plain', ...opts.listen.pop3 });
    closers.push(() => pop3.close());
    let pop3s: Pop3Server | undefined;
    if (opts.listen.pop3s) {
      pop3s = await startPop3Server({ ...pop3Common, kind: 'tls', ...opts.listen.pop3s });
      closers.push(() => (pop3s as Pop3Server).close());
    }
    // Mail in: LMTP from the gateways and submission from clients, delivering through the store like APPEND.
    const stored = storeDelivery(store, placement, log);
    let messagesIn = 0;
    const delivery: typeof stored = {
      deliver: async (...args) => {
        const res = await stored.deliver(...args);
        // A repeat of a delivery already stored is not a message in.
        if (!res.duplicate) messagesIn++;
        return res;
      },
      close: () => stored.close(),
    };
    closers.push(() => delivery.close());
    const lmtp = await startLmtpServer({
      ...opts.listen.lmtp,
      tls,
      directory,
      owns,
      delivery,
      hostname,
      // The gateway accepted up to maxMessageBytes and added its header fields.
      maxMessageBytes: limits.maxMessageBytes + SMTP_LIMITS.hopHeaderBytes,
      log,
    });
    closers.push(() => lmtp.close());
    const submissionCommon = {
      auth,
      directory,
      router: opts.router ?? directoryRouter(directory, { memberId: opts.memberId, host: opts.listen.lmtp.host, port: lmtp.port }),
      owns,
      delivery,
      peers: opts.peers ?? nodemailerPeers(hostname),
      ...(opts.queue ? { queue: opts.queue } : {}),
      memberId: opts.memberId,
      hostname,
      plaintextAuth,
      tls,
      limit: connections,
      proxyFrom,
      maxMessageBytes: limits.maxMessageBytes,
      log,
    };
    const submissionServers: SmtpListener[] = [];
    let submission: SmtpListener | undefined;
    if (opts.listen.submission) {
      submission = await startSubmissionServer({ ...submissionCommon, kind: 'plain', ...opts.listen.submission });
      submissionServers.push(submission);
      closers.push(() => (submission as SmtpListener).close());
    }
    let smtps: SmtpListener | undefined;
    if (opts.listen.smtps) {
      smtps = await startSubmissionServer({ ...submissionCommon, kind: 'tls', ...opts.listen.smtps });
      submissionServers.push(smtps);
      closers.push(() => (smtps as SmtpListener).close());
    }
    new Gauge({
      name: 'mailfleet_lmtp_sessions',
      help: 'Open LMTP sessions (gateways delivering)',
      registers: [registry],
      collect() {
        this.set(lmtp.sessions());
      },
    });
    new Gauge({
      name: 'mailfleet_submission_sessions',
      help: 'Open submission sessions (587 and 465)',
      registers: [registry],
      collect() {
        this.set(submissionServers.reduce((n, s) => n + s.sessions(), 0));
      },
    });
    const imapServers = [imap, imaps].filter((s): s is ImapServer => s !== undefined);
    const pop3Servers = [pop3, pop3s].filter((s): s is Pop3Server => s !== undefined);
    new Gauge({
      name: 'mailfleet_imap_sessions',
      help: 'Open IMAP sessions',
      registers: [registry],
      collect() {
        this.set(imapServers.reduce((n, s) => n + s.sessions(), 0));
      },
    });
    new Gauge({
      name: 'mailfleet_pop3_sessions',
      help: 'Open POP3 sessions',
      registers: [registry],
      collect() {
        this.set(pop3Servers.reduce((n, s) => n + s.sessions(), 0));
      },
    });
    ready = true;
    const ports = {
      imapPort: imap.port,
      ...(imaps ? { imapsPort: imaps.port } : {}),
      pop3Port: pop3.port,
      ...(pop3s ? { pop3sPort: pop3s.port } : {}),
      lmtpPort: lmtp.port,
      ...(submission ? { submissionPort: submission.port } : {}),
      ...(smtps ? { smtpsPort: smtps.port } : {}),
      healthPort: health.port,
    };
    log.info(ports, 'node ready');
    let closing: Promise<void> | undefined;
    return {
      ...ports,
      store,
      registry,
      sessions: () => ({
        imap: imapServers.reduce((n, s) => n + s.sessions(), 0),
        pop3: pop3Servers.reduce((n, s) => n + s.sessions(), 0),
        lmtp: lmtp.sessions(),
        submission: submissionServers.reduce((n, s) => n + s.sessions(), 0),
      }),
      messagesIn: () => messagesIn,
      applyLimits: (l) => {
        if (l.maxConnections !== undefined) connections.max = l.maxConnections;
        if (l.maxMessageBytes !== undefined) services.limits.maxMessageBytes = Math.min(l.maxMessageBytes, limits.maxMessageBytes);
      },
      applyTls,
      applySharedFolders: (o) => mailboxes.applySharedFolders(o),
      applyClusterCertificate,
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
