import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection';
import type { DirectoryUser } from '../../auth';
import type { Logger } from '../../common/log';
import { onCertificateReplaced, serveSessions, type ConnectionLimit, type ListenerKind, type TlsMaterial } from '../../net';
import type { Reply } from '../filters/types';
import { SMTP_LIMITS } from './limits';
import { readMessage } from './message';
import { COMMON_REPLIES, SmtpReplyError } from './reply';

/**
 * The node's SMTP-family listeners (LMTP, submission) on smtp-server: the
 * library speaks the protocol (command parsing, pipelining, DATA
 * transparency, STARTTLS, SASL exchanges); this file adapts it to ours:
 *
 * - connections are accepted by net/'s serveSessions, so the member's
 *   connection bounds apply at accept time in the one place every listener
 *   shares (the admission hook of issue 9 lands there), and the session id
 *   is our connection id (log lines and Received headers agree);
 * - the phases (auth, mail-from, rcpt-to, data) are our async functions
 *   returning a Reply; an exception in one becomes `451 4.3.0` and a log
 *   line with its stack, never a crash;
 * - every reply carries the enhanced status code its phase chose
 *   (RFC 3463; smtp-server alone maps one per basic code);
 * - AUTH passes a gate first (plaintext policy: 538 5.7.11, RFC 4954 §6);
 * - stopping lets transactions in flight finish, then says 421 4.3.2.
 */

/** What the listener knows about one connection, for the phases. */
export interface SmtpConnectionState {
  readonly id: string;
  readonly remoteIp: string;
  /** The peer of this hop: the client, or the trusted proxy it came through (PROXY v2); the plaintext policy judges it. */
  readonly hopIp: string;
  /** Child logger with the connection id (and protocol); one line per session event. */
  readonly log: Logger;
  /** Set once AUTH succeeded (submission). */
  user?: DirectoryUser;
  /** Failed AUTH attempts on this connection. */
  authFailures: number;
  /** Tells the listener the client logged in: the member's login deadline (net/) no longer applies. */
  readonly onLogin: () => void;
}

export interface PhaseContext {
  /** smtp-server's session: envelope, EHLO name, TLS state (updated after STARTTLS). */
  readonly session: SMTPServerSession;
  readonly conn: SmtpConnectionState;
}

export interface Credentials {
  method: 'PLAIN' | 'LOGIN';
  username: string;
  password: string;
  /** SASL PLAIN authorization identity (RFC 4616 §2), '' when absent. */
  authzid: string;
}

export type AuthVerdict = { ok: true; user: DirectoryUser } | { ok: false; reply: Reply; hangUp?: boolean };

/**
 * One listener's phases (CONVENTIONS.md: SMTP split by phase). A phase
 * resolves `undefined` to accept (smtp-server answers 250 with 2.1.0 /
 * 2.1.5) or the reply to refuse with; `data` resolves one reply (SMTP) or
 * one per recipient in envelope order (LMTP, RFC 2033 §4.2).
 */
export interface SmtpPhases {
  auth?(ctx: PhaseContext, creds: Credentials): Promise<AuthVerdict>;
  mailFrom(ctx: PhaseContext, address: SMTPServerAddress): Promise<Reply | undefined>;
  rcptTo(ctx: PhaseContext, address: SMTPServerAddress): Promise<Reply | undefined>;
  data(ctx: PhaseContext, message: Buffer): Promise<Reply | Reply[]>;
}

export interface SmtpListenerOptions {
  protocol: 'lmtp' | 'submission';
  kind: ListenerKind;
  host: string;
  port: number;
  /** Greeting, EHLO reply, Received `by`. */
  hostname: string;
  tls: TlsMaterial;
  /** Connection bounds at accept (shared with the member's other client listeners, or LMTP's own). */
  limit: ConnectionLimit;
  /** Networks of the proxies whose connections start with a PROXY v2 header (submission: config `proxyProtocolFrom`). */
  proxyFrom?: readonly string[];
  /** RFC 1870 SIZE, advertised and enforced (552 5.3.4). */
  maxMessageBytes: number;
  maxCommandBytes: number;
  /** Submission: AUTH PLAIN/LOGIN is required before MAIL (530 5.7.0). */
  auth?: {
    /** A refusal before any credentials are read (plaintext policy), or undefined to go on. */
    gate(ctx: PhaseContext): Reply | undefined;
  };
  phases: SmtpPhases;
  log: Logger;
}

export interface SmtpListener {
  readonly port: number;
  /** Open sessions (metrics). */
  sessions(): number;
  /** Stop accepting, let transactions in flight finish (bounded), 421 to every session, close. */
  close(): Promise<void>;
}

const ENHANCED_PREFIX = /^([245]\.\d{1,3}\.\d{1,3}) /;
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;

/**
 * smtp-server's connection with our reply conventions (see the file
 * comment). The members overridden here are public in the library's
 * declarations; the protocol tables in test/smtp/ fail if a library update
 * changes them.
 */
class MailfleetConnection extends SMTPConnection {
  declare _server: MailfleetSmtpServer;

  /** A reply text that starts with an enhanced code (`5.7.1 …`) is sent with that code. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (context !== false && typeof data === 'string') {
      const m = ENHANCED_PREFIX.exec(data);
      if (m && m[1]![0] === String(code)[0]) {
        super.send(code, data.slice(m[0].length), m[1]);
        return;
      }
    }
    super.send(code, data, context);
  }

  override _getEnhancedStatusCode(code: number, context?: string | false): string {
    if (typeof context === 'string' && ENHANCED.test(context)) return context;
    return super._getEnhancedStatusCode(code, context);
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    // Once stopping, every new command is answered 421 (RFC 5321 §3.8) and the session ends.
    if (this._server.stopping && !this._upgrading && !this._nextHandler && this._ready) {
      const r = COMMON_REPLIES.shuttingDown;
      this.send(r.code, `${r.enhanced} ${r.text}`);
      return;
    }
    super._onCommand(command, callback);
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    const refusal = this._server.authGate?.(this.session);
    if (refusal) {
      this.send(refusal.code, `${refusal.enhanced} ${refusal.text}`);
      callback();
      return;
    }
    super.handler_AUTH(command, callback);
  }

  /** Between commands and not in a transaction's DATA: safe to say goodbye now. */
  get idle(): boolean {
    return !this._handlerPending && !this._dataStream;
  }

  bye(r: Reply): void {
    if (this._closing || this._closed) return;
    // Never while a TLS handshake runs: plaintext there would break it (send() guards too).
    if (this._upgrading) {
      this._socket.destroy();
      return;
    }
    this.send(r.code, `${r.enhanced} ${r.text}`);
  }
}

class MailfleetSmtpServer extends SMTPServer {
  stopping = false;
  authGate?: (session: SMTPServerSession) => Reply | undefined;

  /** The library's connect(), with our connection class, returning it. */
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): MailfleetConnection {
    const connection = new MailfleetConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
    return connection;
  }
}

/** Starts one LMTP or submission listener. */
export async function serveSmtp(opts: SmtpListenerOptions): Promise<SmtpListener> {
  const { phases, protocol } = opts;
  const states = new Map<string, SmtpConnectionState>();
  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];

  const stateOf = (session: SMTPServerSession): SmtpConnectionState => {
    const s = states.get(session.id);
    if (!s) throw new Error(`no connection state for session ${session.id}`);
    return s;
  };

  /**
   * Runs a phase: counts it as in flight (stop waits for it), and turns an
   * exception into 451 4.3.0 with a log line carrying the stack.
   */
  const run = async <T>(session: SMTPServerSession, what: string, fn: (ctx: PhaseContext) => Promise<T>): Promise<T | SmtpReplyError> => {
    inFlight++;
    let conn: SmtpConnectionState | undefined;
    try {
      conn = stateOf(session);
      return await fn({ session, conn });
    } catch (err) {
      (conn?.log ?? opts.log).error({ err, phase: what }, `${protocol} ${what} failed`);
      return new SmtpReplyError(COMMON_REPLIES.internalError);
    } finally {
      inFlight--;
      if (inFlight === 0) {
        const w = idleWaiters;
        idleWaiters = [];
        for (const f of w) f();
      }
    }
  };
  const toError = (r: Reply | undefined): SmtpReplyError | null => (r ? new SmtpReplyError(r) : null);
  /** Hands a phase's outcome to smtp-server; should the library throw there, it is logged, never an unhandled rejection. */
  const answer = <T>(phase: Promise<T>, reply: (v: T) => void): void => {
    phase.then(reply).catch((err: unknown) => opts.log.error({ err, protocol }, `${protocol}: answering a phase failed`));
  };

  const options: SMTPServerOptions = {
    name: opts.hostname,
    banner: 'mailfleet',
    lmtp: protocol === 'lmtp',
    secure: opts.kind === 'tls',
    key: opts.tls.key,
    cert: opts.tls.cert,
    // RFC 8996: no TLS 1.0/1.1 (smtp-server's own default still allows them).
    minVersion: 'TLSv1.2',
    logger: false,
    // No DNS on the node: the Received header names the address literal.
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: false,
    size: opts.maxMessageBytes,
    rejectOversized: true,
    socketTimeout: SMTP_LIMITS.idleTimeoutMs,
    maxCommandLength: opts.maxCommandBytes,
    maxRecipients: SMTP_LIMITS.maxRecipients,
    maxAllowedUnauthenticatedCommands: SMTP_LIMITS.unauthenticatedCommands,
    // The sendmail jokes and the proxy commands have no place here.
    disabledCommands: [...(opts.auth ? [] : ['AUTH', 'STARTTLS']), 'WIZ', 'SHELL', 'KILL', 'XCLIENT', 'XFORWARD'],
    // AUTH: the gate decides about plaintext (allowInsecureAuth only turns the library's own check off); RFC 4954 §6 530 before MAIL.
    ...(opts.auth ? { authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: true, authRequiredMessage: '5.7.0 Authentication required' } : {}),
    onAuth(auth, session, callback) {
      const auther = phases.auth;
      if (!auther || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')) {
        callback(new SmtpReplyError({ code: 504, enhanced: '5.5.4', text: 'Unrecognized authentication type' }));
        return;
      }
      const creds: Credentials = { method: auth.method, username: auth.username ?? '', password: auth.password ?? '', authzid: auth.authzid ?? '' };
      answer(run(session, 'auth', (ctx) => auther(ctx, creds)), (v) => {
        if (v instanceof SmtpReplyError) return callback(v);
        const conn = states.get(session.id);
        if (v.ok) {
          if (conn) {
            conn.user = v.user;
            conn.onLogin();
          }
          callback(null, { user: v.user.address });
          return;
        }
        callback(null, { message: `${v.reply.enhanced} ${v.reply.text}`, responseCode: v.reply.code });
        if (v.hangUp) setImmediate(() => connections.get(session.id)?.bye({ code: 421, enhanced: '4.7.0', text: 'Too many failed logins, closing connection' }));
      });
    },
    onMailFrom(address, session, callback) {
      answer(run(session, 'mail-from', (ctx) => phases.mailFrom(ctx, address)), (v) => callback(v instanceof SmtpReplyError ? v : toError(v)));
    },
    onRcptTo(address, session, callback) {
      answer(run(session, 'rcpt-to', (ctx) => phases.rcptTo(ctx, address)), (v) => callback(v instanceof SmtpReplyError ? v : toError(v)));
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const phase = run(session, 'data', async (ctx) => {
        const message = await readMessage(stream, opts.maxMessageBytes);
        // Oversized (smtp-server answers 552 5.3.4, once per recipient on LMTP) or the client left.
        if (!message || stream.sizeExceeded) return undefined;
        return phases.data(ctx, message);
      });
      answer(phase, (v) => {
        if (v === undefined) return callback();
        if (v instanceof SmtpReplyError) return callback(v);
        if (Array.isArray(v)) return callback(null, v.map((r) => (r.code < 300 ? `${r.enhanced} ${r.text}` : new SmtpReplyError(r))));
        return v.code < 300 ? callback(null, `${v.enhanced} ${v.text}`) : callback(new SmtpReplyError(v));
      });
    },
  };
  const smtp = new MailfleetSmtpServer(options);
  // STARTTLS presents a certificate the cluster settings replace (net/tls.ts): smtp-server keeps its own copy of key and cert.
  onCertificateReplaced(opts.tls, (m) => smtp.updateSecureContext({ key: m.key, cert: m.cert }));
  if (opts.auth) {
    const gate = opts.auth.gate;
    smtp.authGate = (session) => {
      const conn = states.get(session.id);
      return conn ? gate({ session, conn }) : COMMON_REPLIES.internalError;
    };
  }
  // Socket errors of one connection (resets, failed STARTTLS handshakes) are that client's business.
  smtp.on('error', (err: Error) => opts.log.debug({ err, protocol }, `${protocol} connection error`));

  const connections = new Map<string, MailfleetConnection>();
  const served = await serveSessions(
    {
      kind: opts.kind,
      host: opts.host,
      port: opts.port,
      tls: opts.tls,
      limit: opts.limit,
      proxyFrom: opts.proxyFrom ?? [],
      // RFC 5321 §3.1: a server that cannot serve now greets with 421.
      refusal: (reason) =>
        Buffer.from(`421 4.7.0 ${opts.hostname} too many connections${reason === 'address' ? ' from your address' : ''}, try again later\r\n`),
    },
    (accepted) => {
      const log = opts.log.child({ cid: accepted.id, protocol, ip: accepted.remoteIp });
      return {
        start() {
          states.set(accepted.id, { id: accepted.id, remoteIp: accepted.remoteIp, hopIp: accepted.via ?? accepted.remoteIp, log, authFailures: 0, onLogin: accepted.onLogin });
          accepted.socket.once('close', () => {
            states.delete(accepted.id);
            connections.delete(accepted.id);
            log.debug('session closed');
            accepted.onClose();
          });
          const connection = smtp.connect(accepted.socket, { id: accepted.id });
          connections.set(accepted.id, connection);
          // Without AUTH (LMTP) there is no login: the member's login deadline
          // does not apply; the idle timeout still does.
          if (!opts.auth) accepted.onLogin();
          log.debug({ secure: accepted.secure }, 'session started');
        },
        shutdown(reason) {
          // RFC 4954 §4 leaves the timeout to the server; 421 closes (RFC 5321 §3.8).
          connections
            .get(accepted.id)
            ?.bye(reason === 'login-timeout' ? { code: 421, enhanced: '4.7.0', text: 'Authentication timeout, closing connection' } : COMMON_REPLIES.shuttingDown);
        },
      };
    },
  );

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    smtp.stopping = true;
    // No new connections; those open finish what they are doing.
    served.listener.server.close();
    for (const c of connections.values()) if (c.idle) c.bye(COMMON_REPLIES.shuttingDown);
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, SMTP_LIMITS.shutdownGraceMs);
        t.unref();
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await served.close();
  };
  return {
    port: served.port,
    sessions: () => served.sessions(),
    close: () => (closing ??= close()),
  };
}
