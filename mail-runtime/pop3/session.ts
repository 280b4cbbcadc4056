import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Authenticator, DirectoryUser } from '../auth';
import { LIMITS } from '../common/limits';
import type { Logger } from '../common/log';
import { LineSplitter, plaintextAuthAllowed, startTls, type PlaintextAuthPolicy, type ShutdownReason, type TlsMaterial } from '../net';
import { dispatch, type ClientLine, type CommandResult, type GateContext, type Pop3Services, type Pop3State } from './commands';
import type { Pop3Backend } from './maildrop';
import type { Transaction } from './transaction';
import { continuationLine, errLine, messageLines, multiLine, okLine } from './wire';

export interface Pop3SessionOptions {
  id: string;
  socket: Socket | TLSSocket;
  secure: boolean;
  remoteIp: string;
  /** The trusted proxy the connection came through (PROXY v2, config `proxyProtocolFrom`): the peer of this hop. */
  via?: string;
  auth: Authenticator;
  backend: Pop3Backend;
  tls?: TlsMaterial;
  plaintextAuth: PlaintextAuthPolicy;
  log: Logger;
  hostname: string;
  idleTimeoutMs?: number;
  onClose?: () => void;
  /** Called once logged in: the connection's login deadline (serveSessions) no longer applies. */
  onLogin?: () => void;
}

/** Bad commands in a row before we hang up (RFC 1939 does not say; the same limit as IMAP's). */
const BAD_COMMANDS_BEFORE_CLOSE = LIMITS.imapBadCommandsBeforeBye;
/** Lines read ahead of the one being answered; a client this far ahead is not waiting for answers (RFC 2449 §6.6 PIPELINING still works). */
const MAX_QUEUED_LINES = 1000;
/** Multi-line responses are written this many lines at a time, waiting for the socket to drain in between. */
const LINES_PER_WRITE = 256;

/**
 * One POP3 connection, RFC 1939 with CAPA (RFC 2449), SASL PLAIN (RFC 5034),
 * STLS (RFC 2595) and response codes (RFC 2449 §8, RFC 3206).
 *
 * Bytes in → LineSplitter → a queue of lines → the gate (commands/dispatch)
 * → handlers; results → wire.ts → bytes out. Lines are handled strictly one
 * at a time in arrival order (so PIPELINING is safe, RFC 2449 §6.6). This
 * class owns the socket and the state; it decides nothing about commands.
 */
export class Pop3Session implements GateContext {
  readonly id: string;
  readonly remoteIp: string;
  /** The client, or the proxy it came through: the plaintext policy judges this hop (see ImapSession.hopPeer). */
  private readonly hopPeer: string;
  readonly services: Pop3Services;
  log: Logger;
  state: Pop3State = 'AUTHORIZATION';
  secure: boolean;
  closed = false;
  pendingUser: string | undefined;
  transaction: Transaction | undefined;

  private socket: Socket | TLSSocket;
  private splitter: LineSplitter;
  private queue: ClientLine[] = [];
  private busy = false;
  private badCommands = 0;
  private user: DirectoryUser | undefined;
  /** A handler waiting for the client's next line (SASL). */
  private lineWaiter: ((line: ClientLine | undefined) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cleanedUp = false;
  /** Stops listening on the current socket (set by attach()). */
  private detach: () => void = () => undefined;

  constructor(private readonly opts: Pop3SessionOptions) {
    this.id = opts.id;
    this.remoteIp = opts.remoteIp;
    this.hopPeer = opts.via ?? opts.remoteIp;
    this.secure = opts.secure;
    this.socket = opts.socket;
    this.services = { auth: opts.auth, backend: opts.backend, tls: opts.tls, plaintextAuth: opts.plaintextAuth, hostname: opts.hostname };
    this.log = opts.log.child({ cid: opts.id, proto: 'pop3', ip: opts.remoteIp });
    this.splitter = this.newSplitter();
  }

  start(): void {
    this.attach(this.socket);
    this.log.info({ secure: this.secure }, 'connect');
    this.sendLine(okLine(`${this.services.hostname} POP3 ready`));
    this.touch();
  }

  /** Ends the session from outside: server shutdown, or no login before the deadline. */
  shutdown(reason: ShutdownReason): void {
    if (this.closed) return;
    this.sendLine(reason === 'login-timeout' ? errLine('Autologout; no login in time') : errLine('Server shutting down', 'SYS/TEMP'));
    this.close();
  }

  // ---------------------------------------------------------------- CommandContext

  plaintextAuthAllowed(): boolean {
    return plaintextAuthAllowed(this.services.plaintextAuth, this.secure, this.hopPeer);
  }

  challenge(base64: string): Promise<ClientLine | undefined> {
    this.sendLine(continuationLine(base64));
    const next = this.queue.shift();
    if (next || this.closed) return Promise.resolve(next);
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
    });
  }

  async enterTransaction(user: DirectoryUser, transaction: Transaction): Promise<boolean> {
    if (this.closed) {
      await transaction.close().catch(() => undefined);
      return false;
    }
    this.transaction = transaction;
    this.user = user;
    this.pendingUser = undefined;
    this.log = this.log.child({ user: user.address });
    this.state = 'TRANSACTION';
    this.opts.onLogin?.();
    this.touch();
    return true;
  }

  enterUpdate(): Transaction {
    const txn = this.transaction;
    if (!txn) throw new Error('UPDATE without a maildrop');
    this.transaction = undefined;
    this.state = 'UPDATE';
    return txn;
  }

  // ---------------------------------------------------------------- GateContext

  async reply(result: CommandResult): Promise<void> {
    if (result.status !== 'OK') return this.sendLine(errLine(result.text, result.code));
    this.sendLine(okLine(result.text));
    if (!result.body) return;
    const lines = result.body.kind === 'lines' ? result.body.lines : messageLines(result.body.message, result.body.bodyLines);
    await this.writeLines(multiLine(lines));
  }

  countBad(): void {
    this.badCommands++;
    if (this.badCommands >= BAD_COMMANDS_BEFORE_CLOSE) {
      this.sendLine(errLine('Too many bad commands, closing'));
      this.close();
    }
  }

  resetBad(): void {
    this.badCommands = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer();
    this.socket.end();
  }

  async startTls(): Promise<void> {
    const tls = this.services.tls;
    if (!tls || this.closed) return;
    // The handshake has its own time limit (net/starttls.ts).
    this.stopTimer();
    try {
      this.socket = await startTls({
        socket: this.socket as Socket,
        context: tls.context,
        detach: this.detach,
        // RFC 2595 §4 and CVE-2011-0411: lines pipelined after STLS arrived
        // in the clear and are dropped, and so is a USER name given before it.
        discard: () => {
          this.queue = [];
          this.splitter.reset();
          this.pendingUser = undefined;
        },
      });
    } catch (e) {
      this.log.info({ err: (e as Error).message }, 'TLS handshake failed');
      await this.cleanup();
      return;
    }
    this.secure = true;
    this.attach(this.socket);
    this.touch();
    this.log.info('stls');
  }

  // ---------------------------------------------------------------- connection

  private newSplitter(): LineSplitter {
    return new LineSplitter(
      LIMITS.pop3LineBytes,
      (text) => this.enqueue({ kind: 'line', text }),
      () => this.enqueue({ kind: 'overflow' }),
    );
  }

  private attach(socket: Socket | TLSSocket): void {
    const onData = (chunk: Buffer): void => this.splitter.push(chunk);
    const onError = (e: Error): void => this.log.debug({ err: e.message }, 'socket error');
    const onClose = (): void => void this.cleanup();
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', onClose);
    this.detach = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
  }

  private enqueue(line: ClientLine): void {
    if (this.closed) return;
    this.touch();
    const waiter = this.lineWaiter;
    if (waiter) {
      this.lineWaiter = undefined;
      waiter(line);
      return;
    }
    if (this.queue.length >= MAX_QUEUED_LINES) {
      this.sendLine(errLine('Too many pipelined commands'));
      this.close();
      return;
    }
    this.queue.push(line);
    void this.drain();
  }

  /** Runs queued lines one at a time. Never rejects: it is started from socket events. */
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      let line: ClientLine | undefined;
      while (!this.closed && (line = this.queue.shift())) {
        this.touch();
        try {
          await dispatch(this, line);
        } catch (e) {
          // dispatch() already turns handler errors into replies; this is the last guard.
          this.log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'dispatch failed');
          this.sendLine(errLine('Internal error', 'SYS/TEMP'));
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * RFC 1939 §3: the inactivity autologout timer once logged in, restarted
   * by every line. Before login the connection's login deadline applies
   * instead (serveSessions, config `limits.loginTimeoutSeconds`), and
   * nothing the client sends moves it.
   */
  private touch(): void {
    this.stopTimer();
    if (this.closed || this.state === 'AUTHORIZATION') return;
    this.timer = setTimeout(() => {
      this.sendLine(errLine('Autologout; idle for too long', 'SYS/TEMP'));
      this.close();
    }, this.opts.idleTimeoutMs ?? LIMITS.pop3IdleTimeoutMs);
    this.timer.unref();
  }

  private sendLine(line: string): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(`${line}\r\n`);
  }

  /** Writes lines (latin1: message bytes go out unchanged) in batches, waiting for the socket to drain. */
  private async writeLines(lines: Iterable<string>): Promise<void> {
    let batch: string[] = [];
    for (const l of lines) {
      batch.push(l);
      if (batch.length >= LINES_PER_WRITE) {
        if (!(await this.write(batch))) return;
        batch = [];
      }
    }
    if (batch.length) await this.write(batch);
  }

  /** False once the connection is gone. */
  private async write(batch: string[]): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return false;
    if (this.socket.write(Buffer.from(`${batch.join('\r\n')}\r\n`, 'latin1'))) return true;
    const socket = this.socket;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
    return !socket.destroyed;
  }

  private async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.closed = true;
    this.stopTimer();
    const waiter = this.lineWaiter;
    this.lineWaiter = undefined;
    waiter?.(undefined);
    const txn = this.transaction;
    this.transaction = undefined;
    // RFC 1939 §6: a connection that ends without QUIT does not enter UPDATE; nothing is removed.
    if (txn) await txn.close().catch((e: unknown) => this.log.warn({ err: String(e) }, 'closing maildrop failed'));
    this.log.info({ user: this.user?.address }, 'disconnect');
    try {
      this.opts.onClose?.();
    } catch (e) {
      this.log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'onClose failed');
    }
  }
}
