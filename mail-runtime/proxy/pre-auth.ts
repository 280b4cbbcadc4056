import type { Socket } from 'node:net';
import { plaintextAuthAllowed, startTls, type AcceptedConnection, type ShutdownReason } from '../net';
import type { BackendConnection } from './backend';
import { PROXY_LIMITS, type FrontServices } from './front';
import { splice } from './splice';

/** The lines a protocol says when the proxy ends a connection before login. */
export interface ByeLines {
  /** `limits.loginTimeoutSeconds` passed with no login. */
  readonly loginTimeout: string;
  /** The proxy is stopping. */
  readonly shuttingDown: string;
  /** PROXY_LIMITS.badCommandsBeforeBye reached. */
  readonly tooManyBad: string;
  /**
   * Close the socket as soon as the goodbye is written (IMAP), rather than
   * when the client closes its side or 2 s later (POP3, submission).
   */
  readonly destroyWhenWritten: boolean;
}

/**
 * What the IMAP, POP3 and submission fronts share: one client connection
 * before login. The subclass reads the protocol (`onBytes`, `pump`) and
 * replays the login on the owner node; this class holds the connection's
 * life: greeting, goodbye, the bad-command count, the STARTTLS upgrade,
 * pausing the client while a login is in flight, and the hand-over that
 * pipes the client to the node once the node said yes.
 */
export abstract class PreAuthFront {
  protected socket: Socket;
  protected secure: boolean;
  /** A login or a TLS handshake is in flight: commands wait. */
  protected busy = false;
  protected closed = false;
  /** Handed over to a node: the bytes are the node's business now. */
  protected spliced = false;
  private bad = 0;
  /** Logins the node refused on this connection. */
  protected failures = 0;
  private killSplice: (() => void) | undefined;

  constructor(
    protected readonly conn: AcceptedConnection,
    protected readonly s: FrontServices,
    private readonly byes: ByeLines,
  ) {
    this.socket = conn.socket;
    this.secure = conn.secure;
  }

  /** The greeting, sent once the connection is read. */
  protected abstract greeting(): string;
  /** Bytes from the client before login. */
  protected abstract onBytes(d: Buffer): void;
  /** Runs buffered commands until one has to wait. */
  protected abstract pump(): void;
  /** What the client sent past the login that succeeded: the node gets it first. */
  protected abstract takePending(): Buffer;

  protected get plaintextOk(): boolean {
    return plaintextAuthAllowed(this.s.plaintextAuth, this.secure, this.conn.remoteIp);
  }

  start(): void {
    this.socket.on('data', this.onData);
    this.socket.once('close', () => {
      if (!this.spliced) this.finish();
    });
    this.send(this.greeting());
  }

  shutdown(reason: ShutdownReason): void {
    if (this.spliced) this.killSplice?.();
    else this.bye(reason === 'login-timeout' ? this.byes.loginTimeout : this.byes.shuttingDown);
  }

  protected readonly onData = (d: Buffer): void => this.onBytes(d);

  protected finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.onClose();
  }

  protected send(line: string): void {
    if (!this.socket.destroyed) this.socket.write(`${line}\r\n`);
  }

  /** Says `line` and closes (not after a hand-over: then the node speaks). */
  protected bye(line: string): void {
    if (this.closed || this.spliced) return;
    this.send(line);
    this.socket.end();
    if (this.byes.destroyWhenWritten) this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.finish();
  }

  /** Counts a bad command; one too many closes the connection. */
  protected countBad(): void {
    if (++this.bad >= PROXY_LIMITS.badCommandsBeforeBye) this.bye(this.byes.tooManyBad);
  }

  /**
   * STARTTLS / STLS after the protocol's go-ahead line: the handshake, then
   * commands again over TLS. `discard` drops whatever was read in the clear
   * (RFC 3207 §4.2, RFC 2595 §4, RFC 3501 §6.2.1; CVE-2011-0411).
   */
  protected upgrade(goAhead: string, discard: () => void): void {
    const context = this.s.tlsContext;
    if (!context) return;
    this.send(goAhead);
    this.busy = true;
    const plain = this.socket;
    startTls({
      socket: plain,
      context,
      detach: () => plain.removeListener('data', this.onData),
      discard,
    }).then(
      (tls) => {
        this.socket = tls;
        this.secure = true;
        this.busy = false;
        tls.on('data', this.onData);
        tls.resume();
        this.pump();
      },
      () => {
        plain.destroy();
        this.finish();
      },
    );
  }

  /** Holds the client's commands while `replay` asks the node, then goes on (unless handed over or closed). */
  protected whileLoggingIn(replay: () => Promise<void>): void {
    this.busy = true;
    this.socket.pause();
    void replay().finally(() => {
      if (this.spliced || this.closed) return;
      this.busy = false;
      this.socket.resume();
      this.pump();
    });
  }

  /** The node said yes: pipe the client to it, and remember the session so a placement change can end it. */
  protected handOver(backend: BackendConnection, user: string, node: string, incarnation: number): void {
    this.spliced = true;
    // The login deadline (limits.loginTimeoutSeconds, net/session-server.ts) no longer applies; the node's autologout does.
    this.conn.onLogin();
    const pending = this.takePending();
    this.socket.removeListener('data', this.onData);
    const { socket, rest } = backend.release();
    let forget = (): void => undefined;
    const kill = splice(this.socket, socket, pending, rest, () => {
      forget();
      this.finish();
    });
    this.killSplice = kill;
    forget = this.s.sessions.add({ user, node, incarnation, kill });
  }
}

/**
 * A line-based front (POP3, submission): CRLF lines bounded at `maxBytes`;
 * a longer one is answered once with `tooLong` and skipped to its end.
 */
export abstract class LineFront extends PreAuthFront {
  protected buf: Buffer = Buffer.alloc(0);
  /** Skipping the rest of an over-long line. */
  protected skipping = false;

  constructor(
    conn: AcceptedConnection,
    s: FrontServices,
    byes: ByeLines,
    private readonly maxBytes: number,
    private readonly tooLong: string,
  ) {
    super(conn, s, byes);
  }

  /** One line from the client, without its CRLF. */
  protected abstract line(text: string): void;

  protected onBytes(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.pump();
  }

  protected takePending(): Buffer {
    const pending = this.buf;
    this.buf = Buffer.alloc(0);
    return pending;
  }

  /** Splits lines (bounded: a longer line is answered once and skipped) and runs them one at a time. */
  protected pump(): void {
    while (!this.busy && !this.closed && !this.spliced) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) {
        if (this.buf.length > this.maxBytes) {
          this.buf = Buffer.alloc(0);
          if (!this.skipping) {
            this.skipping = true;
            this.send(this.tooLong);
            this.countBad();
          }
        }
        return;
      }
      let line = this.buf.subarray(0, nl);
      this.buf = this.buf.subarray(nl + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (line.length > this.maxBytes) {
        this.send(this.tooLong);
        this.countBad();
        continue;
      }
      if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      this.line(line.toString('utf8'));
    }
  }
}
