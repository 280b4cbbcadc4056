import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection';
import { onCertificateReplaced, plaintextAuthAllowed, serveSessions, type SessionServer, type TlsMaterial } from '../../net';
import { connectPhase } from './connect';
import { clientIp, type InboundContext, type InboundSession } from './context';
import { dataPhase } from './data';
import { INBOUND_LIMITS } from './limits';
import { mailFromPhase } from './mail-from';
import { rcptToPhase } from './rcpt-to';
import { ENHANCED_PREFIX, REPLIES, SmtpReply, tooBusy, tooManyFromAddress } from './reply';

/** The one name the relay listener's login limiter counts failures under (see onAuth). */
const RELAY_LOGIN = 'cluster-member@relay.invalid';

/** What smtp-server's `connect` takes besides the socket: the client as our listener saw it (a PROXY v2 header's source, RFC-less but HAProxy's spec). */
interface MxSocketOptions extends SMTPConnectionOptions {
  remoteAddress?: string;
  remotePort?: number;
}

/**
 * smtp-server adds an enhanced status code chosen from the basic code alone
 * (550 → 5.1.1 whatever the reason). Our replies carry their own (relay
 * denied is 550 5.7.1, RFC 3463), written at the start of the text; this
 * connection sends those as they are and leaves smtp-server's own replies
 * to smtp-server.
 */
class MxConnection extends SMTPConnection {
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (typeof data === 'string' && ENHANCED_PREFIX.test(data)) return super.send(code, data, false);
    super.send(code, data, context);
  }
}

/**
 * smtp-server with our connection class. `connect()` is what SMTPServer does
 * for an accepted socket (smtp-server 3.21.6, pinned), with MxConnection in
 * place of SMTPConnection; we call it from our own listener so admission
 * happens before smtp-server sees the socket.
 *
 * The message size limit can change while the server runs (cluster settings
 * `limits.maxMessageBytes`), yet smtp-server reads one `options.size` for
 * EHLO's SIZE, MAIL FROM's SIZE= check and DATA's bound. Each connection
 * therefore gets a view of this server whose options carry the size in force
 * when it was accepted: a change reaches connections accepted after it, and
 * a session keeps the SIZE it advertised (RFC 1870 §4: the value a client was
 * told is the one its messages are judged by).
 */
class MxServer extends SMTPServer {
  private readonly sizes = new WeakMap<SMTPServerSession, number>();

  constructor(
    options: SMTPServerOptions,
    /** The size limit connections accepted from now on advertise and apply. */
    public maxMessageBytes: number,
  ) {
    super(options);
  }

  /** The size limit of the session's connection (the one its EHLO advertised). */
  sizeOf(session: SMTPServerSession): number {
    return this.sizes.get(session) ?? this.maxMessageBytes;
  }

  override connect(socket: Socket, socketOptions?: MxSocketOptions | null): MxConnection {
    const size = this.maxMessageBytes;
    // Reads through the view fall through to this server (connections, secure context, handlers); only `options.size` differs.
    const options = Object.create(this.options, { size: { value: size, enumerable: true } }) as SMTPServerOptions;
    const view = Object.create(this, { options: { value: options } }) as this;
    const connection = new MxConnection(view, socket, socketOptions);
    this.sizes.set(connection.session, size);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this.emit('error', err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
    return connection;
  }
}

export interface MxListenerOptions extends InboundContext {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  /** RuntimeConfig `inbound.maxRecipients` (RFC 5321 §4.5.3.1.8). */
  maxRecipients: number;
  /** RuntimeConfig `inbound.idleTimeoutSeconds`, in ms (RFC 5321 §4.5.3.2.7). */
  idleTimeoutMs: number;
  /** Certificate for STARTTLS (RFC 3207); absent: STARTTLS is not offered. */
  tls?: TlsMaterial;
  /** RuntimeConfig `proxyProtocolFrom`: trusted balancers whose connections start with a PROXY v2 header naming the client. */
  proxyFrom?: readonly string[];
}

export interface MxListener {
  readonly port: number;
  /** SMTP sessions open now. */
  sessions(): number;
  /** A new size limit (RFC 1870 SIZE and the DATA bound) for connections accepted from now on; sessions in progress keep theirs. */
  setMaxMessageBytes(bytes: number): void;
  /** 421 to every session, stop listening, wait for the sockets to close. */
  close(): Promise<void>;
}

/**
 * The inbound MX (RFC 5321): smtp-server parses the protocol and is the one
 * gate every command passes (state, syntax, command-line length, the early
 * talker check); each phase is a module of ours (connect.ts, mail-from.ts,
 * rcpt-to.ts, data.ts). No AUTH on the MX: it takes mail for hosted domains
 * from anyone and relays for nobody outside relayNetworks; submission is
 * the node's listener. With `relay` the same phases serve the gateway's
 * relay listener, where cluster members log in (AUTH PLAIN, the cluster
 * token) before MAIL and may then relay. Any fault inside a phase answers 451 4.3.0 and is
 * logged with its stack; it never reaches the process.
 */
export async function startMxListener(opts: MxListenerOptions): Promise<MxListener> {
  const sessions = new WeakMap<SMTPServerSession, InboundSession>();
  const log = opts.log;
  const relay = opts.relay;
  const authFailures = new WeakMap<SMTPServerSession, number>();

  /** Runs a phase; its SmtpReply is the answer, anything else is our fault. */
  const guarded = <T>(what: string, session: SMTPServerSession, run: () => Promise<T>, done: (err: Error | null | undefined, value?: T) => void): void => {
    run().then(
      (value) => done(null, value),
      (err: unknown) => {
        if (err instanceof SmtpReply) {
          if (err.code >= 400) sessions.get(session)?.log.info({ phase: what, reply: err.line }, 'refused');
          done(err);
          return;
        }
        (sessions.get(session)?.log ?? log).error({ err, phase: what }, 'internal error in SMTP session');
        done(REPLIES.internal());
      },
    );
  };
  const stateOf = (session: SMTPServerSession): InboundSession => {
    const s = sessions.get(session);
    if (!s) throw new Error(`no inbound state for session ${session.id}`);
    return s;
  };
  const phaseOf = (phase: 'connect' | 'mail-from' | 'rcpt-to' | 'data', err: unknown): void => {
    if (err instanceof SmtpReply && opts.metrics) opts.metrics.outcome(err.code >= 500 ? 'rejected' : 'tempfail', phase);
  };

  const options: SMTPServerOptions = {
    name: opts.hostname,
    // RFC 1870: SIZE advertised in EHLO; MAIL FROM SIZE= above it gets 552 5.3.4 from smtp-server; DATA beyond it, from data.ts.
    size: opts.maxMessageBytes,
    maxRecipients: opts.maxRecipients,
    socketTimeout: opts.idleTimeoutMs,
    closeTimeout: 1000,
    maxCommandLength: INBOUND_LIMITS.commandLineBytes - 2,
    // An MX: no AUTH (RFC 5321 §3.9 relay rules decide). The relay listener: AUTH PLAIN (RFC 4954, RFC 4616) required
    // before MAIL (530 5.7.0), checked by onAuth below. RFC 2034 enhanced codes on every reply.
    disabledCommands: [...(relay ? [] : ['AUTH']), ...(opts.tls ? [] : ['STARTTLS'])],
    authOptional: !relay,
    ...(relay ? { authMethods: ['PLAIN'], allowInsecureAuth: true } : {}),
    hideENHANCEDSTATUSCODES: false,
    // DSN (RFC 3461) parameters are not honoured yet, so not advertised.
    hideDSN: true,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' as const } : { hideSTARTTLS: true }),
    logger: false,
    onAuth(auth, session, callback) {
      // allowInsecureAuth only lets the command through: whether the token may cross this connection in clear is ours to say.
      if (!relay) return callback(new SmtpReply(503, '5.5.1', 'AUTH not available here'));
      if (!plaintextAuthAllowed(relay.plaintextAuth, session.secure, clientIp(session))) {
        return callback(new SmtpReply(538, '5.7.11', 'encryption required for requested authentication mechanism (STARTTLS first, RFC 4954 §4)'));
      }
      const ip = clientIp(session);
      const slog = sessions.get(session)?.log ?? log;
      // The limiter counts one identity for every member: the token is shared, so guesses are bounded per address, not per name.
      void (async () => {
        const verdict = await relay.limiter.check(RELAY_LOGIN, ip);
        if (!verdict.allowed) {
          slog.warn({ user: auth.username, reason: verdict.reason }, 'relay login refused unchecked: too many failures from this address');
          return callback(REPLIES.authThrottled());
        }
        if (verdict.delayMs > 0) await new Promise((r) => setTimeout(r, verdict.delayMs));
        if (auth.method !== 'PLAIN' || !relay.verify(auth.username ?? '', auth.password ?? '')) {
          await relay.limiter.failed(RELAY_LOGIN, ip);
          const failed = (authFailures.get(session) ?? 0) + 1;
          authFailures.set(session, failed);
          slog.warn({ user: auth.username, failed }, 'relay login refused: not the cluster token');
          // A 421 makes smtp-server close the connection after sending it.
          if (failed >= relay.failuresPerConnection) return callback(new SmtpReply(421, '4.7.0', 'too many failed logins, closing connection'));
          return callback(new SmtpReply(535, '5.7.8', 'authentication credentials invalid'));
        }
        await relay.limiter.succeeded(RELAY_LOGIN, ip);
        slog.info({ member: auth.username }, 'cluster member logged in for relay');
        callback(null, { user: auth.username });
      })().catch((err: unknown) => {
        slog.error({ err }, 'internal error in relay AUTH');
        callback(REPLIES.internal());
      });
    },
    onConnect(session, callback) {
      guarded(
        'connect',
        session,
        async () => {
          try {
            const s = await connectPhase(opts, session);
            s.maxMessageBytes = server.sizeOf(session);
            sessions.set(session, s);
          } catch (err) {
            phaseOf('connect', err);
            throw err;
          }
        },
        callback,
      );
    },
    onMailFrom(address, session, callback) {
      guarded(
        'mail-from',
        session,
        async () => {
          try {
            await mailFromPhase(opts, stateOf(session), address, session);
          } catch (err) {
            phaseOf('mail-from', err);
            throw err;
          }
        },
        callback,
      );
    },
    onRcptTo(address, session, callback) {
      guarded(
        'rcpt-to',
        session,
        async () => {
          try {
            await rcptToPhase(opts, stateOf(session), address, session);
          } catch (err) {
            phaseOf('rcpt-to', err);
            throw err;
          }
        },
        callback,
      );
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      // A client gone mid-DATA destroys the stream with an error; the phase's loop sees it and the session is over anyway.
      stream.on('error', () => undefined);
      guarded(
        'data',
        session,
        async () => {
          try {
            return await dataPhase(opts, stateOf(session), stream, session);
          } catch (err) {
            phaseOf('data', err);
            throw err;
          }
        },
        (err, text) => (err ? callback(err) : callback(null, text)),
      );
    },
    onClose(session) {
      sessions.get(session)?.log.debug('connection closed');
    },
  };
  const server = new MxServer(options, opts.maxMessageBytes);
  // STARTTLS presents a certificate the cluster settings replace (net/tls.ts): smtp-server keeps its own copy of key and cert.
  if (opts.tls) onCertificateReplaced(opts.tls, (m) => server.updateSecureContext({ key: m.key, cert: m.cert }));
  // Socket errors of one connection arrive here; they end that connection, never the process.
  server.on('error', (err: Error) => log.debug({ err }, 'SMTP connection error'));

  // The member's shared bounds (net/): a slot in total and per client address at accept, before smtp-server sees the
  // socket; the client is the PROXY v2 header's when it came through a trusted balancer. One address at its bound is
  // refused 421 while every other address is still greeted.
  const refusal = { total: Buffer.from(tooBusy(opts.hostname)), address: Buffer.from(tooManyFromAddress(opts.hostname)) };
  const listener: SessionServer = await serveSessions(
    { kind: 'plain', host: opts.host, port: opts.port, limit: opts.connections, refusal: (r) => refusal[r], ...(opts.proxyFrom ? { proxyFrom: opts.proxyFrom } : {}) },
    (conn) => {
      let smtp: MxConnection | undefined;
      conn.socket.once('close', () => conn.onClose());
      return {
        start: () => {
          smtp = server.connect(conn.socket as Socket, { remoteAddress: conn.remoteIp, remotePort: conn.remotePort });
        },
        shutdown: () => {
          smtp?.send(421, '4.3.2 server shutting down');
          smtp?.close();
        },
      };
    },
  );
  log.info({ port: listener.port }, relay ? 'relay listener (cluster members, AUTH) listening' : 'inbound MX listening');

  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    sessions: () => server.connections.size,
    setMaxMessageBytes: (bytes) => {
      server.maxMessageBytes = bytes;
    },
    close: () => {
      closing ??= (async () => {
        await Promise.all([listener.close(), new Promise<void>((r) => server.close(() => r()))]);
      })();
      return closing;
    },
  };
}
