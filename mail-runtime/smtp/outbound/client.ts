import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { OUTBOUND_LIMITS } from './limits';
import { ReplyParser, replyText, type SmtpReply } from './reply';
import type { TlsFailure } from './tls-report';

/**
 * Our SMTP client for delivery to other MTAs (RFC 5321, STARTTLS RFC 3207,
 * PIPELINING RFC 2920). Not nodemailer's smtp-connection: the TLS policies of
 * outbound delivery decide between the handshake and the second EHLO —
 * DANE needs the peer's certificate chain even when PKIX rejects it
 * (self-signed DANE-EE keys are normal, RFC 7672 §3.1.1), MTA-STS needs the
 * PKIX verdict, and either must be able to refuse the session or only report
 * — and smtp-connection keeps the TLS socket private. Everything else it
 * would give us (multi-line replies, dot-stuffing, per-RCPT replies) is a
 * few dozen lines here, with bounds we choose (OUTBOUND_LIMITS).
 */

/** Where a session failed; `dot`: after the whole message was sent, waiting for its reply (the message may have arrived). */
export type SessionPhase = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls' | 'mail' | 'rcpt' | 'data' | 'dot' | 'rset' | 'quit';

/** A session-level failure: the server's reply when there is one, else a network or TLS problem (always temporary). */
export class SmtpError extends Error {
  constructor(
    message: string,
    readonly phase: SessionPhase,
    readonly reply?: SmtpReply,
    readonly tlsFailure?: TlsFailure,
  ) {
    super(message);
    this.name = 'SmtpError';
  }

  /** The line a DeliveryResult carries: the server's reply, or a 4xx we word ourselves. */
  get resultReply(): string {
    if (this.reply) return replyText(this.reply);
    return `451 ${this.tlsFailure ? '4.7.5' : '4.4.2'} ${this.message}`.slice(0, OUTBOUND_LIMITS.replyTextChars);
  }
}

/** What a session demands of TLS on this connection. */
export interface TlsPolicy {
  /**
   * `none`: plaintext (the fallback after a failed opportunistic handshake);
   * `opportunistic`: STARTTLS when offered, certificate not checked (RFC 7435);
   * `required`: STARTTLS must be offered, succeed and pass `verify` (DANE,
   * MTA-STS enforce).
   */
  mode: 'none' | 'opportunistic' | 'required';
  /** SNI and, for PKIX checks, the reference name (the MX host name). */
  servername?: string;
  /** Trust anchors for the PKIX verdict `socket.authorized` (default: Node's roots). */
  ca?: string[];
  /** Judges the peer after the handshake; a failure ends a `required` session and is only reported otherwise. */
  verify?: (socket: TLSSocket) => TlsFailure | undefined;
}

export interface SessionOptions {
  /** The address to connect to (an IP; names are resolved by the caller, which also picks the order). */
  address: string;
  port: number;
  /** Our name in EHLO (RFC 5321 §4.1.1.1: the client's FQDN). */
  localName: string;
  tls: TlsPolicy;
  signal?: AbortSignal;
}

export interface TlsState {
  protocol: string | null;
  cipher: string;
  /** The policy's `verify` passed (or there was none and PKIX passed). */
  verified: boolean;
  failure?: TlsFailure;
}

interface Waiter {
  resolve: (r: SmtpReply) => void;
  reject: (e: Error) => void;
}

export class SmtpSession {
  /** EHLO keywords (upper case) → their parameters. */
  extensions = new Map<string, string>();
  tls?: TlsState;
  private socket: Socket;
  private readonly parser = new ReplyParser();
  private replies: SmtpReply[] = [];
  private waiters: Waiter[] = [];
  private failure?: Error;
  private readonly onData = (chunk: string) => this.receive(chunk);
  private readonly onError = (err: Error) => this.fail(new SmtpError(`connection failed: ${err.message}`, 'connect'));
  private readonly onClose = () => this.fail(new SmtpError('connection closed by the server', 'connect'));

  private constructor(
    socket: Socket,
    private readonly opts: SessionOptions,
  ) {
    this.socket = socket;
    this.attach(socket);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = () => {
    this.fail(new SmtpError('delivery aborted', 'connect'));
    this.socket.destroy();
  };

  /** Connects, reads the greeting, says EHLO (HELO if refused) and applies the TLS policy. */
  static async open(opts: SessionOptions): Promise<SmtpSession> {
    if (opts.signal?.aborted) throw new SmtpError('delivery aborted', 'connect');
    const socket = await connectTcp(opts.address, opts.port, opts.signal);
    const s = new SmtpSession(socket, opts);
    try {
      const greeting = await s.read('greeting', OUTBOUND_LIMITS.greetingTimeoutMs);
      if (greeting.code !== 220) throw new SmtpError(`greeting refused: ${replyText(greeting)}`, 'greeting', greeting);
      await s.hello();
      await s.applyTls();
      return s;
    } catch (err) {
      s.close();
      throw err;
    }
  }

  /** Sends one command and reads its reply. */
  async command(line: string, phase: SessionPhase, timeoutMs = OUTBOUND_LIMITS.commandTimeoutMs): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read(phase, timeoutMs);
  }

  /**
   * Sends commands as one group and reads their replies in order (RFC 2920
   * PIPELINING when the server offers it; one at a time otherwise).
   */
  async commands(lines: string[], phase: SessionPhase): Promise<SmtpReply[]> {
    if (!this.extensions.has('PIPELINING')) {
      const out: SmtpReply[] = [];
      for (const l of lines) out.push(await this.command(l, phase));
      return out;
    }
    this.write(lines.map((l) => `${l}\r\n`).join(''));
    const out: SmtpReply[] = [];
    for (let i = 0; i < lines.length; i++) out.push(await this.read(phase, OUTBOUND_LIMITS.commandTimeoutMs));
    return out;
  }

  /** DATA, the dot-stuffed message, and the final reply; the 354 refusal is returned as is. */
  async data(message: Buffer): Promise<SmtpReply> {
    const go = await this.command('DATA', 'data', OUTBOUND_LIMITS.dataInitTimeoutMs);
    if (go.code !== 354) return go;
    await this.writeAll(encodeData(message));
    try {
      return await this.read('dot', OUTBOUND_LIMITS.dataTermTimeoutMs);
    } catch (err) {
      // The message went out whole; whether it arrived is unknown (RFC 1047).
      throw new SmtpError(`no reply after the message was sent: ${(err as Error).message}`, 'dot');
    }
  }

  /** QUIT politely (RFC 5321 §4.1.1.10), without waiting long for a server that does not answer. */
  async quit(): Promise<void> {
    if (!this.failure) {
      try {
        await this.command('QUIT', 'quit', 10_000);
      } catch {
        // The server may close first; nothing depends on its goodbye.
      }
    }
    this.close();
  }

  close(): void {
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.fail(new SmtpError('session closed', 'quit'));
    this.socket.destroy();
  }

  get peer(): string {
    return `${this.opts.tls.servername ?? this.opts.address}[${this.opts.address}]:${this.opts.port}`;
  }

  private async hello(): Promise<void> {
    const ehlo = await this.command(`EHLO ${this.opts.localName}`, 'ehlo');
    this.extensions = new Map();
    if (ehlo.code === 250) {
      for (const line of ehlo.lines.slice(1)) {
        const [kw, ...params] = line.trim().split(/\s+/);
        if (kw) this.extensions.set(kw.toUpperCase(), params.join(' '));
      }
      return;
    }
    // RFC 5321 §3.2: a server that does not know EHLO gets HELO (and offers no extensions).
    const helo = await this.command(`HELO ${this.opts.localName}`, 'ehlo');
    if (helo.code !== 250) throw new SmtpError(`EHLO and HELO refused: ${replyText(helo)}`, 'ehlo', helo);
  }

  private async applyTls(): Promise<void> {
    const policy = this.opts.tls;
    if (policy.mode === 'none') return;
    if (!this.extensions.has('STARTTLS')) {
      if (policy.mode === 'required') {
        throw new SmtpError('the server does not offer STARTTLS and the TLS policy requires it', 'starttls', undefined, { resultType: 'starttls-not-supported', detail: 'STARTTLS not offered' });
      }
      return;
    }
    const go = await this.command('STARTTLS', 'starttls');
    if (go.code !== 220) {
      if (policy.mode === 'required') {
        throw new SmtpError(`STARTTLS refused: ${replyText(go)}`, 'starttls', undefined, { resultType: 'starttls-not-supported', detail: replyText(go) });
      }
      return;
    }
    // RFC 3207 §6: nothing the server sent before the handshake may be used
    // (a man in the middle could have injected it after the 220).
    this.parser.reset();
    this.replies = [];
    this.detach(this.socket);
    // The TLS socket takes over the connection; a late error on the plain one must not crash the process.
    this.socket.on('error', () => undefined);
    const secure = await upgrade(this.socket, policy);
    this.socket = secure;
    this.attach(secure);
    const failure = policy.verify ? policy.verify(secure) : undefined;
    const cipher = secure.getCipher();
    this.tls = { protocol: secure.getProtocol(), cipher: cipher.name, verified: !failure && (policy.verify !== undefined || secure.authorized), failure };
    if (failure && policy.mode === 'required') {
      // RFC 7672 §2.2 / RFC 8461 §5: an unauthenticated peer gets nothing more, not even QUIT.
      throw new SmtpError(`TLS peer not accepted: ${failure.detail}`, 'tls', undefined, failure);
    }
    await this.hello();
  }

  private attach(socket: Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private receive(chunk: string): void {
    try {
      this.replies.push(...this.parser.push(chunk));
    } catch (err) {
      this.fail(new SmtpError(`protocol error from the server: ${(err as Error).message}`, 'connect'));
      this.socket.destroy();
      return;
    }
    while (this.replies.length && this.waiters.length) this.waiters.shift()!.resolve(this.replies.shift()!);
  }

  private read(phase: SessionPhase, timeoutMs: number): Promise<SmtpReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new SmtpError(`no reply from the server within ${Math.round(timeoutMs / 1000)} s (${phase})`, phase));
        this.socket.destroy();
      }, timeoutMs);
      timer.unref();
      this.waiters.push({
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(this.failure);
  }

  private write(data: string): void {
    if (this.failure) throw this.failure;
    this.socket.write(data, 'latin1');
  }

  private async writeAll(data: Buffer): Promise<void> {
    const CHUNK = 64 * 1024;
    for (let off = 0; off < data.length; off += CHUNK) {
      if (this.failure) throw this.failure;
      if (!this.socket.write(data.subarray(off, off + CHUNK))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.on('drain', done);
          this.socket.on('close', done);
        });
      }
    }
  }
}

/**
 * The message as DATA sends it (RFC 5321 §4.5.2 transparency, §2.3.8 line
 * endings): every line ending becomes CRLF, a line starting with "." gets
 * another, and the end is CRLF "." CRLF.
 */
export function encodeData(message: Buffer): Buffer {
  let s = message.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  s = s.replace(/(^|\r\n)\./g, '$1..');
  if (s.length && !s.endsWith('\r\n')) s += '\r\n';
  return Buffer.from(`${s}.\r\n`, 'latin1');
}

function connectTcp(address: string, port: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ host: address, port, family: isIP(address) || undefined });
    const timer = setTimeout(() => finish(new SmtpError(`no connection to ${address}:${port} within ${OUTBOUND_LIMITS.connectTimeoutMs / 1000} s`, 'connect')), OUTBOUND_LIMITS.connectTimeoutMs);
    const onAbort = () => finish(new SmtpError('delivery aborted', 'connect'));
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onConnect = () => finish();
    const onError = (err: NodeJS.ErrnoException) => finish(new SmtpError(`cannot connect to ${address}:${port}: ${err.code ?? err.message}`, 'connect'));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function upgrade(socket: Socket, policy: TlsPolicy): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    // The verdict is ours (policy.verify), so OpenSSL must not end the
    // handshake on a chain it does not like: DANE-EE keys are self-signed.
    const servername = policy.servername && isIP(policy.servername) === 0 ? policy.servername : undefined;
    const secure = tlsConnect({ socket, servername, rejectUnauthorized: false, ca: policy.ca });
    const timer = setTimeout(() => done(new Error(`TLS handshake not finished within ${OUTBOUND_LIMITS.tlsHandshakeTimeoutMs / 1000} s`)), OUTBOUND_LIMITS.tlsHandshakeTimeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      secure.off('secureConnect', onSecure);
      secure.off('error', onError);
      if (err) {
        secure.destroy();
        reject(new SmtpError(`TLS handshake failed: ${err.message}`, 'tls', undefined, { resultType: 'validation-failure', detail: `handshake: ${err.message}` }));
      } else resolve(secure);
    };
    const onSecure = () => done();
    const onError = (err: Error) => done(err);
    secure.once('secureConnect', onSecure);
    secure.once('error', onError);
  });
}
