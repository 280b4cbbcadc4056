import { Counter, Gauge } from 'prom-client';
import { Authenticator, FileDirectory, LoginLimiter, PasswordCheckPool, StaticDirectory, loginLimiterOptions, passwordCheckOptions, type Directory } from '../auth';
import { createLogger, type Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { startImapServer, type ImapServer, type ImapServices } from '../imap';
import { analyzeMessage } from '../imap/message';
import { ConnectionLimit, createRegistry, loadTls, startHealthServer, type HealthServer, type PlaintextAuthPolicy, type RefusalReason, type TlsFiles } from '../net';
import { startPop3Server, type Pop3Server } from '../pop3';
import { MailStore } from '../store';
import { storeMailboxProvider, storePop3Backend, type EpochSource } from './mailboxes';

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
    /** `/healthz`, `/readyz`, `/metrics`. */
    health: HostPort;
  };
  /** Certificate files; a self-signed certificate is generated when absent. */
  tls?: TlsFiles;
  /** Where LOGIN / USER+PASS / AUTH PLAIN are allowed without TLS. */
  plaintextAuth: PlaintextAuthPolicy;
  /** Users: a directory object (hub client later) or a local users file. None: nobody can log in. */
  directory?: Directory | { file: string };
  /** Owner epoch per mailbox; default 1 until placement supplies real epochs. */
  epochFor?: EpochSource;
  /** Config `limits`: message and literal sizes, connections (over all client listeners), login failures and timeout, password checks. */
  limits: RuntimeConfigOf<'node'>['limits'];
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
  healthPort: number;
  store: MailStore;
  /** BYE to every session, stop listeners, flush the store. */
  close(): Promise<void>;
}

const VERSION = '0.1.0';
/** At most one "connection limit reached" line per this interval. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

function isDirectory(d: NodeOptions['directory']): d is Directory {
  return typeof d === 'object' && d !== null && 'authenticate' in d;
}

/** Starts the node role: IMAP(+IMAPS), POP3(+POP3S) and the health endpoint on one store. */
export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const log = opts.log ?? createLogger({ role: 'node', member: opts.memberId });
  const { hostname, plaintextAuth, limits } = opts;
  let ready = false;
  const registry = createRegistry({ role: 'node', member: opts.memberId });
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
    const tls = await loadTls(opts.tls, hostname);
    if (tls.selfSigned) log.warn('no TLS certificate configured: using a generated self-signed certificate');
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
    const auth = new Authenticator(directory, new LoginLimiter(loginLimiterOptions(limits)), log, {
      failuresPerConnection: limits.loginFailuresPerConnection,
      passwords,
      onOutcome: (result) => logins.inc({ result }),
    });
    const store = new MailStore({ root: opts.storagePath, maxMessageBytes: limits.maxMessageBytes, analyze: analyzeMessage, logger: log });
    closers.push(() => store.close());
    const epochOf = opts.epochFor ?? (() => 1);
    const services: ImapServices = {
      auth,
      mailboxes: storeMailboxProvider(store, epochOf),
      tls,
      plaintextAuth,
      hostname,
      log,
      version: VERSION,
      limits: { maxMessageBytes: limits.maxMessageBytes, imapLiteralBytes: limits.imapLiteralBytes },
    };
    // One set of limits for every client listener: the bounds are the process's.
    const refused = new Counter({
      name: 'mailfleet_connections_refused_total',
      help: 'Client connections refused at accept: reason "total" (limits.maxConnections open) or "address" (limits.maxConnectionsPerAddress from its address)',
      labelNames: ['reason'],
      registers: [registry],
    });
    const lastRefusalLog: Record<RefusalReason, number> = { total: 0, address: 0 };
    const connections = new ConnectionLimit(
      limits.maxConnections,
      {
        maxPerAddress: limits.maxConnectionsPerAddress,
        perAddressExempt: limits.perAddressExempt,
        loginTimeoutMs: limits.loginTimeoutSeconds * 1000,
        tlsHandshakeMs: limits.tlsHandshakeSeconds * 1000,
      },
      (reason, ip) => {
        refused.inc({ reason });
        // One line a minute per reason at most: a connection flood must not become a log flood.
        const now = Date.now();
        if (now - lastRefusalLog[reason] < REFUSAL_LOG_INTERVAL_MS) return;
        lastRefusalLog[reason] = now;
        if (reason === 'total') log.warn({ maxConnections: limits.maxConnections }, 'connection limit reached: refusing new connections');
        else log.warn({ ip, maxConnectionsPerAddress: limits.maxConnectionsPerAddress }, 'per-address connection limit reached: refusing connections from this address');
      },
    );
    const imapCommon = { services, connections, idleTimeoutMs: opts.imapIdleTimeoutMs };
    const imap = await startImapServer({ ...imapCommon, kind: 'plain', ...opts.listen.imap });
    closers.push(() => imap.close());
    let imaps: ImapServer | undefined;
    if (opts.listen.imaps) {
      imaps = await startImapServer({ ...imapCommon, kind: 'tls', ...opts.listen.imaps });
      closers.push(() => (imaps as ImapServer).close());
    }
    const pop3Common = { auth, backend: storePop3Backend(store, epochOf), tls, plaintextAuth, log, hostname, connections };
    const pop3 = await startPop3Server({ ...pop3Common, kind: 'plain', ...opts.listen.pop3 });
    closers.push(() => pop3.close());
    let pop3s: Pop3Server | undefined;
    if (opts.listen.pop3s) {
      pop3s = await startPop3Server({ ...pop3Common, kind: 'tls', ...opts.listen.pop3s });
      closers.push(() => (pop3s as Pop3Server).close());
    }
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
      healthPort: health.port,
    };
    log.info(ports, 'node ready');
    let closing: Promise<void> | undefined;
    return {
      ...ports,
      store,
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
