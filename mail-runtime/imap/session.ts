import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { DirectoryUser } from '../auth';
import { LIMITS } from '../common/limits';
import type { Logger } from '../common/log';
import { plaintextAuthAllowed, startTls, type ShutdownReason } from '../net';
import { isStoreError, type FolderGoneReason, type UserMailbox } from '../store';
import { capabilities } from './commands/capabilities';
import { sendContextUpdates } from './commands/context-update';
import { dispatch } from './commands/dispatch';
import { sendPaced } from './commands/work';
import type { ImapServices, SessionContext, SessionState } from './commands/types';
import type { MailboxView } from './commands/view';
import {
  CommandReader,
  compileResponse,
  compileResponses,
  continuation,
  untagged,
  tagged,
  type ImapResponse,
  type LiteralDecision,
  type LiteralLimits,
  type LiteralRequest,
} from './protocol';

export interface ImapSessionOptions {
  id: string;
  socket: Socket | TLSSocket;
  secure: boolean;
  remoteIp: string;
  /** The trusted proxy the connection came through (PROXY v2, config `proxyProtocolFrom`): the peer of this hop. */
  via?: string;
  services: ImapServices;
  onClose?: () => void;
  /** Called once logged in: the connection's login deadline (serveSessions) no longer applies. */
  onLogin?: () => void;
  /** A shorter autologout timer than LIMITS (tests only; no config field sets it). */
  idleTimeoutMs?: number;
}

/** Literals before login only carry user names and passwords (RFC 3501 §6.2.3); cap them small. */
const PRE_AUTH_LITERAL_BYTES = 8 * 1024;
/** RFC 3501 §7.1.5 BYE text when the selected folder object dies (sent with [UNAVAILABLE], RFC 5530). */
const GONE_TEXT: Record<FolderGoneReason, string> = {
  fenced: 'Mailbox moved to another node',
  deleted: 'Selected mailbox was deleted',
  'io-error': 'Mail storage failed, reconnect',
};
/** Stop reading from the socket while this much is queued and unprocessed (back-pressure). */
const PAUSE_BUFFERED_BYTES = 1024 * 1024;

/**
 * One IMAP connection: bytes in → CommandReader → dispatcher → handlers;
 * typed responses → compiler → bytes out. Commands run strictly one at a
 * time; while one runs the reader is not pulled, so a pipelined command
 * cannot overtake (RFC 3501 §5.5 allows us to serialise).
 */
export class ImapSession implements SessionContext {
  readonly id: string;
  readonly remoteIp: string;
  /**
   * Whom this connection's bytes travel between: the client, or the proxy
   * it came through. Plaintext is a property of the hop (the proxy judged
   * the client's own hop), so the plaintext policy looks at this peer.
   */
  private readonly hopPeer: string;
  readonly services: ImapServices;
  readonly enabled = new Set<string>();
  log: Logger;
  state: SessionState = 'NOT_AUTHENTICATED';
  secure: boolean;
  user: DirectoryUser | undefined;
  mailbox: UserMailbox | undefined;
  selected: MailboxView | undefined;

  private socket: Socket | TLSSocket;
  private reader: CommandReader;
  private busy = false;
  private closed = false;
  private cleanedUp = false;
  private idle = false;
  private idleFlushScheduled = false;
  /** The notification flush in progress (flushes run one after the other). */
  private flushing: Promise<void> = Promise.resolve();
  private badCommands = 0;
  private lineWaiter: ((line: Buffer | 'too-long' | null) => void) | undefined;
  private releaseMailbox: (() => Promise<void>) | undefined;
  /** Other users' mailboxes opened for their shared folders (released with the session). */
  private readonly others = new Map<string, { mailbox: UserMailbox; release: () => Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  /** Stops listening on the current socket (set by attach()). */
  private detach: () => void = () => undefined;

  constructor(private readonly opts: ImapSessionOptions) {
    this.id = opts.id;
    this.remoteIp = opts.remoteIp;
    this.hopPeer = opts.via ?? opts.remoteIp;
    this.services = opts.services;
    this.secure = opts.secure;
    this.socket = opts.socket;
    this.log = opts.services.log.child({ cid: opts.id, proto: 'imap', ip: opts.remoteIp });
    this.reader = this.newReader();
  }

  private newReader(): CommandReader {
    const limits = this.literalLimits();
    const reader = new CommandReader({ maxLiteralBytes: limits.maxLiteralBytes, onLiteral: (req) => this.checkLiteral(req) });
    reader.setLiteralLimits(limits);
    return reader;
  }

  /**
   * Literal caps for the current state, for both kinds of literal. Before
   * authentication only credentials are expected (RFC 3501 §6.2.3), so a
   * `{n+}` literal above PRE_AUTH_LITERAL_BYTES ends the connection unread
   * (RFC 7888 §4 lets the server close) instead of being buffered; LITERAL-
   * is advertised then (RFC 7888 §5, see capabilities.ts): a `{n+}` literal
   * is at most LIMITS.imapNonSyncLiteralBytes (4096), a bigger one is
   * answered `BAD [TOOBIG]` and read and dropped (up to the small cap). After
   * login LITERAL+ is advertised instead: non-synchronising literals are
   * accepted up to the normal cap (pipelined APPEND, as Dovecot offers).
   */
  private literalLimits(): LiteralLimits {
    const configured = this.services.limits.imapLiteralBytes;
    if (this.state === 'NOT_AUTHENTICATED') {
      const pre = Math.min(PRE_AUTH_LITERAL_BYTES, configured);
      return { maxLiteralBytes: pre, maxNonSyncLiteralBytes: Math.min(LIMITS.imapNonSyncLiteralBytes, pre), reason: 'before authentication' };
    }
    return { maxLiteralBytes: configured, maxNonSyncLiteralBytes: configured };
  }

  /**
   * Decides on a synchronising literal before `+ Ready` is sent (RFC 7889
   * APPENDLIMIT, RFC 4469 TOOBIG). The per-state size caps (including the
   * small one before login) are already applied by the reader, see
   * literalLimits().
   */
  private checkLiteral(req: LiteralRequest): LiteralDecision {
    const max = this.services.limits.maxMessageBytes;
    if (req.kind === 'message' && req.size > max) {
      return { accept: false, code: 'TOOBIG', text: `Message too big (max ${max} octets)` };
    }
    // RFC 3502 sets no bound on a MULTIAPPEND; ours is refused before the client sends its bytes.
    const most = this.services.limits.imapAppendMessages;
    if (req.kind === 'message' && req.receivedMessages >= most) {
      return { accept: false, code: 'LIMIT', text: `Too many messages in one APPEND (max ${most})` };
    }
    return { accept: true };
  }

  start(): void {
    // TCP_NODELAY: every response is one corked write already (send()), and
    // a command ends with its tagged reply, which Nagle's algorithm would
    // hold back until the client ACKs the data before it — up to the
    // client's delayed-ACK timer (40 ms on Linux) per command with a large
    // response (SEARCH on a big folder, FETCH). Dovecot flushes the same way.
    if (typeof this.socket.setNoDelay === 'function') this.socket.setNoDelay(true);
    this.attach(this.socket);
    this.log.info({ secure: this.secure }, 'connect');
    this.send(untagged('OK', `${this.services.hostname} IMAP4rev1 ready`, { name: 'CAPABILITY', args: this.capabilities().map(atomValue) }));
    this.touch();
  }

  /** Listens on `socket`; keeps how to stop listening for STARTTLS. */
  private attach(socket: Socket | TLSSocket): void {
    const onData = (chunk: Buffer): void => {
      // After BYE nothing more is read: what a client still sends (the rest of a refused literal) is dropped, not queued.
      if (this.closed) return;
      this.reader.push(chunk);
      this.pump();
    };
    const onError = (err: Error): void => this.log.debug({ err: err.message }, 'socket error');
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

  // ---------------------------------------------------------------- SessionContext

  capabilities(): string[] {
    return capabilities({
      state: this.state,
      secure: this.secure,
      tls: Boolean(this.services.tls),
      plaintextAllowed: this.plaintextAuthAllowed(),
    });
  }

  plaintextAuthAllowed(): boolean {
    return plaintextAuthAllowed(this.services.plaintextAuth, this.secure, this.hopPeer);
  }

  send(response: ImapResponse): void {
    if (this.closed || this.socket.destroyed) return;
    // One writev per response: a FETCH response is a prefix, the literal
    // (the message file's own buffer, not copied) and a suffix.
    this.socket.cork();
    for (const chunk of compileResponse(response)) this.socket.write(chunk);
    this.socket.uncork();
  }

  sendAll(responses: readonly ImapResponse[]): void {
    if (this.closed || this.socket.destroyed || responses.length === 0) return;
    // One writev for the lot (FETCH batches): fewer system calls and fewer
    // wake-ups of the reader on the other end than one writev per response.
    this.socket.cork();
    for (const chunk of compileResponses(responses)) this.socket.write(chunk);
    this.socket.uncork();
  }

  drain(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  readLine(maxBytes?: number): Promise<Buffer | 'too-long' | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      this.reader.readRawLine(maxBytes);
      // The line may already be buffered (pipelined).
      queueMicrotask(() => this.pump());
    });
  }

  async otherMailbox(address: string): Promise<UserMailbox | 'unknown' | 'elsewhere'> {
    const key = address.toLowerCase();
    const open = this.others.get(key);
    if (open) return open.mailbox;
    const provider = this.services.mailboxes;
    if (!provider.openOther) return 'unknown';
    const got = await provider.openOther(key);
    if (typeof got === 'string') return got;
    // Closed meanwhile (or another command opened it first: commands run one at a time, so only the former).
    if (this.closed) {
      await got.release();
      return 'elsewhere';
    }
    this.others.set(key, got);
    return got.mailbox;
  }

  async loggedIn(user: DirectoryUser): Promise<void> {
    const { mailbox, release } = await this.services.mailboxes.open(user);
    if (this.closed) {
      await release();
      return;
    }
    this.user = user;
    this.mailbox = mailbox;
    this.releaseMailbox = release;
    this.state = 'AUTHENTICATED';
    this.opts.onLogin?.();
    // Commands run one at a time and the reader is not pulled meanwhile, so
    // the next literal (even one pipelined behind LOGIN) gets the new caps.
    this.reader.setLiteralLimits(this.literalLimits());
    this.log = this.log.child({ user: user.address });
    this.touch();
  }

  select(view: MailboxView): void {
    this.selected = view;
    this.state = 'SELECTED';
  }

  async unselect(): Promise<void> {
    const view = this.selected;
    this.selected = undefined;
    if (this.state === 'SELECTED') this.state = 'AUTHENTICATED';
    if (view) await view.close().catch((err: unknown) => this.log.warn({ err }, 'folder close failed'));
  }

  async startTls(): Promise<void> {
    const tls = this.services.tls;
    if (!tls) return;
    // The handshake has its own time limit (net/starttls.ts).
    this.stopTimer();
    try {
      this.socket = await startTls({
        socket: this.socket as Socket,
        context: tls.context,
        detach: this.detach,
        // RFC 3501 §6.2.1 and CVE-2011-0411: anything pipelined after
        // STARTTLS arrived in the clear; a fresh reader drops it.
        discard: () => {
          this.reader = this.newReader();
        },
      });
    } catch (err) {
      this.log.info({ err: (err as Error).message }, 'TLS handshake failed');
      await this.cleanup();
      return;
    }
    this.secure = true;
    this.attach(this.socket);
    this.touch();
    this.log.info('starttls');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }

  setIdle(on: boolean): void {
    this.idle = on;
    if (on && this.selected?.hasPending) this.scheduleIdleFlush();
  }

  // ---------------------------------------------------------------- internals

  /** Server shutdown, or no login before the deadline: RFC 3501 §7.1.5 BYE, then close. */
  shutdown(reason: ShutdownReason): void {
    this.send(untagged('BYE', reason === 'login-timeout' ? 'Autologout; no login in time' : 'Server shutting down'));
    this.close();
  }

  /** The folder changed: during IDLE, tell the client now (RFC 2177). */
  mailboxChanged(): void {
    if (this.idle) this.scheduleIdleFlush();
  }

  private scheduleIdleFlush(): void {
    if (this.idleFlushScheduled) return;
    this.idleFlushScheduled = true;
    setImmediate(() => {
      this.idleFlushScheduled = false;
      if (!this.idle || this.closed) return;
      void this.flushNotifications(true);
    });
  }

  /**
   * Untagged updates for the selected mailbox; false if the session had to
   * end. A big change elsewhere (STORE 1:* on 100,000 messages) means as
   * many FETCH responses here: they are sent a slice at a time (issue 9),
   * and one flush finishes before the next starts so numbering stays in order.
   */
  flushNotifications(allowExpunge: boolean): Promise<boolean> {
    const run = (): Promise<boolean> => this.sendNotifications(allowExpunge);
    const done = this.flushing.then(run, run);
    this.flushing = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  private async sendNotifications(allowExpunge: boolean): Promise<boolean> {
    const view = this.selected;
    if (!view) return true;
    if (view.goneReason) {
      const why = GONE_TEXT[view.goneReason];
      this.send(untagged('BYE', why, { name: 'UNAVAILABLE' }));
      this.close();
      return false;
    }
    if (view.hasPending) await sendPaced((r) => this.send(r), view.notifications({ allowExpunge, condstore: this.enabled.has('CONDSTORE') }));
    // RFC 5267 §4.3: kept searches' ADDTO/REMOVEFROM after the EXISTS/EXPUNGE they may refer to.
    await sendContextUpdates(view, (r) => this.send(r), this.log);
    return true;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * RFC 3501 §5.4 autologout after login, restarted by every command.
   * Before login the connection's login deadline applies instead
   * (serveSessions, config `limits.loginTimeoutSeconds`), and nothing the
   * client sends moves it.
   */
  private touch(): void {
    this.stopTimer();
    if (this.closed || this.state === 'NOT_AUTHENTICATED') return;
    const ms = this.opts.idleTimeoutMs ?? LIMITS.imapIdleTimeoutMs;
    this.timer = setTimeout(() => {
      this.log.info('autologout');
      this.send(untagged('BYE', 'Autologout; idle for too long'));
      this.close();
    }, ms);
    this.timer.unref();
  }

  private pump(): void {
    while (!this.closed) {
      if (this.busy && !this.lineWaiter) break;
      const ev = this.reader.next();
      if (!ev) break;
      if (this.lineWaiter) {
        if (ev.type !== 'line' && ev.type !== 'line-too-long') {
          // readRawLine() was requested; the reader only yields 'line' or 'line-too-long' then, but stay safe.
          continue;
        }
        const w = this.lineWaiter;
        this.lineWaiter = undefined;
        this.touch();
        w(ev.type === 'line' ? ev.line : 'too-long');
        continue;
      }
      switch (ev.type) {
        case 'continue':
          this.send(continuation('Ready for literal data'));
          break;
        case 'line':
        case 'line-too-long':
          break; // a raw line nobody asked for any more
        case 'error': {
          const e = ev.error;
          this.touch();
          // RFC 7888 §5: an oversized {n+} gets a tagged BAD [TOOBIG]; a refused {n} a NO [TOOBIG] (RFC 7889, RFC 4469).
          if (e.code === 'TOOBIG' && e.tag) this.send(tagged(e.tag, e.nonSync ? 'BAD' : 'NO', e.text, { name: 'TOOBIG' }));
          // RFC 5530 LIMIT: a MULTIAPPEND with more messages than we take (RFC 3502 leaves the bound to us).
          else if (e.code === 'LIMIT' && e.tag) this.send(tagged(e.tag, 'NO', e.text, { name: 'LIMIT' }));
          else if (e.tag) this.send(tagged(e.tag, 'BAD', e.text));
          else this.send(untagged('BAD', e.text));
          if (e.fatal) {
            this.send(untagged('BYE', 'Connection cannot continue'));
            this.close();
            return;
          }
          this.countBad();
          break;
        }
        case 'command':
          this.busy = true;
          this.touch();
          void this.run(ev.command).finally(() => {
            this.busy = false;
            this.touch();
            this.pump();
          });
          break;
      }
    }
    this.backpressure();
  }

  private backpressure(): void {
    if (this.closed) return;
    // Unparsed bytes pile up only while a command runs (pipelining, big LITERAL+ streams):
    // stop reading the socket until the command is done.
    const shouldPause = this.busy && this.reader.bufferedBytes > PAUSE_BUFFERED_BYTES;
    if (shouldPause && !this.socket.isPaused()) this.socket.pause();
    else if (!shouldPause && this.socket.isPaused()) this.socket.resume();
  }

  countBad(): void {
    this.badCommands++;
    if (this.badCommands >= LIMITS.imapBadCommandsBeforeBye) {
      this.send(untagged('BYE', 'Too many invalid commands'));
      this.close();
    }
  }

  resetBad(): void {
    this.badCommands = 0;
  }

  private async run(cmd: Parameters<typeof dispatch>[1]): Promise<void> {
    try {
      await dispatch(this, cmd);
    } catch (err) {
      // dispatch() already turns handler errors into replies; this is the last guard.
      this.log.error({ err }, 'dispatch failed');
      this.send(tagged(cmd.tag, 'NO', 'Internal server error', { name: 'SERVERBUG' }));
      if (isStoreError(err, 'STALE_EPOCH')) this.close();
    }
  }

  private async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.closed = true;
    this.state = 'LOGOUT';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.lineWaiter;
    this.lineWaiter = undefined;
    w?.(null);
    await this.unselect();
    const release = this.releaseMailbox;
    this.releaseMailbox = undefined;
    this.mailbox = undefined;
    if (release) await release().catch((err: unknown) => this.log.warn({ err }, 'mailbox release failed'));
    const others = [...this.others.values()];
    this.others.clear();
    for (const o of others) await o.release().catch((err: unknown) => this.log.warn({ err }, 'shared mailbox release failed'));
    this.log.info('disconnect');
    this.opts.onClose?.();
  }
}

function atomValue(s: string): { t: 'atom'; v: string } {
  return { t: 'atom', v: s };
}
