import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { decodeSaslPlain, type Authenticator, type DirectoryUser } from '../auth';
import { LIMITS } from '../common/limits';
import type { Logger } from '../common/log';
import { LineSplitter, plaintextAuthAllowed, startTls, type PlaintextAuthPolicy, type TlsMaterial } from '../net';
import { MaildropInUseError, type Pop3Backend, type Pop3Maildrop, type Pop3Message } from './maildrop';

export interface Pop3SessionOptions {
  id: string;
  socket: Socket | TLSSocket;
  secure: boolean;
  remoteIp: string;
  auth: Authenticator;
  backend: Pop3Backend;
  tls?: TlsMaterial;
  plaintextAuth: PlaintextAuthPolicy;
  log: Logger;
  hostname: string;
  idleTimeoutMs?: number;
  onClose?: () => void;
}

type State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE' | 'CLOSED';

interface Entry extends Pop3Message {
  deleted: boolean;
}

/** Bad commands in a row before we hang up (RFC 1939 does not say; same spirit as IMAP's limit). */
const BAD_COMMANDS_BEFORE_CLOSE = LIMITS.imapBadCommandsBeforeBye;

/**
 * One POP3 connection, RFC 1939 with CAPA (RFC 2449), SASL PLAIN (RFC 5034),
 * STLS (RFC 2595) and response codes (RFC 2449 §8, RFC 3206).
 * Commands are handled strictly one at a time in arrival order (PIPELINING
 * is then safe, RFC 2449 §6.6).
 */
export class Pop3Session {
  private socket: Socket | TLSSocket;
  private secure: boolean;
  private state: State = 'AUTHORIZATION';
  private splitter: LineSplitter;
  private queue: string[] = [];
  private busy = false;
  private badCommands = 0;
  private pendingUser: string | undefined;
  /** Set while an AUTH exchange waits for the client's response line. */
  private saslContinuation: ((line: string) => Promise<void>) | undefined;
  private user: DirectoryUser | undefined;
  private maildrop: Pop3Maildrop | undefined;
  private messages: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private log: Logger;
  /** Stops listening on the current socket (set by attach()). */
  private detach: () => void = () => undefined;

  constructor(private readonly opts: Pop3SessionOptions) {
    this.socket = opts.socket;
    this.secure = opts.secure;
    this.log = opts.log.child({ cid: opts.id, proto: 'pop3', ip: opts.remoteIp });
    this.splitter = new LineSplitter(LIMITS.pop3LineBytes, (l) => this.enqueue(l), () => this.overflow());
  }

  start(): void {
    this.attach(this.socket);
    this.log.info({ secure: this.secure }, 'connect');
    this.send(`+OK ${this.opts.hostname} POP3 ready`);
    this.touch();
  }

  /** Ends the session from outside (server shutdown). */
  shutdown(): void {
    if (this.state === 'CLOSED') return;
    this.send('-ERR [SYS/TEMP] Server shutting down');
    this.end();
  }

  private attach(socket: Socket | TLSSocket): void {
    const onData = (d: Buffer): void => this.splitter.push(d);
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

  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.send('-ERR [SYS/TEMP] Autologout; idle for too long');
      this.end();
    }, this.opts.idleTimeoutMs ?? LIMITS.pop3IdleTimeoutMs);
    this.timer.unref();
  }

  private send(line: string): void {
    if (this.state === 'CLOSED' || this.socket.destroyed) return;
    this.socket.write(`${line}\r\n`);
  }

  private end(): void {
    this.state = 'CLOSED';
    this.socket.end();
  }

  private async cleanup(): Promise<void> {
    this.state = 'CLOSED';
    if (this.timer) clearTimeout(this.timer);
    const md = this.maildrop;
    this.maildrop = undefined;
    if (md) await md.close().catch(() => undefined);
    this.log.info({ user: this.user?.address }, 'disconnect');
    this.opts.onClose?.();
  }

  private overflow(): void {
    this.queue.push('\u0000overflow');
    void this.drain();
  }

  private enqueue(line: string): void {
    if (this.queue.length > 1000) {
      // A client that pipelines this far ahead is not waiting for answers.
      this.send('-ERR Too many pipelined commands');
      this.end();
      return;
    }
    this.queue.push(line);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && this.state !== 'CLOSED') {
        const line = this.queue.shift() as string;
        this.touch();
        try {
          await this.handle(line);
        } catch (err) {
          this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'command failed');
          this.send('-ERR [SYS/TEMP] Internal error');
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private bad(text: string): void {
    this.badCommands++;
    this.send(`-ERR ${text}`);
    if (this.badCommands >= BAD_COMMANDS_BEFORE_CLOSE) {
      this.send('-ERR Too many bad commands, closing');
      this.end();
    }
  }

  private plaintextOk(): boolean {
    return plaintextAuthAllowed(this.opts.plaintextAuth, this.secure, this.opts.remoteIp);
  }

  private async handle(line: string): Promise<void> {
    if (line === '\u0000overflow') return this.bad('Line too long');
    if (this.saslContinuation) {
      const k = this.saslContinuation;
      this.saslContinuation = undefined;
      return k(line);
    }
    const m = /^([A-Za-z]{1,8})(?: (.*))?$/.exec(line);
    if (!m) return this.bad('Invalid command syntax');
    const cmd = m[1].toUpperCase();
    const arg = m[2] ?? '';
    const args = arg === '' ? [] : arg.split(' ');
    // RFC 1939 §3: keywords and arguments are separated by single spaces; empty args are syntax errors.
    if (args.some((a) => a === '')) return this.bad('Invalid command syntax');

    if (cmd === 'CAPA') return this.capa(args);
    if (cmd === 'QUIT') return this.quit(args);
    if (cmd === 'NOOP' && this.state === 'TRANSACTION') return this.noArgs(args, () => this.send('+OK'));
    if (this.state === 'AUTHORIZATION') {
      switch (cmd) {
        case 'USER':
          return this.userCmd(arg);
        case 'PASS':
          return this.passCmd(arg);
        case 'AUTH':
          return this.authCmd(args);
        case 'STLS':
          return this.stls(args);
        case 'STAT':
        case 'LIST':
        case 'RETR':
        case 'DELE':
        case 'RSET':
        case 'TOP':
        case 'UIDL':
        case 'NOOP':
          return this.bad('Not authenticated');
        default:
          return this.bad('Unknown command');
      }
    }
    switch (cmd) {
      case 'STAT':
        return this.noArgs(args, () => this.stat());
      case 'LIST':
        return this.listCmd(args, false);
      case 'UIDL':
        return this.listCmd(args, true);
      case 'RETR':
        return this.retr(args);
      case 'TOP':
        return this.top(args);
      case 'DELE':
        return this.dele(args);
      case 'RSET':
        return this.noArgs(args, () => {
          for (const e of this.messages) e.deleted = false;
          const live = this.live();
          this.send(`+OK maildrop has ${live.length} messages (${sum(live)} octets)`);
        });
      case 'USER':
      case 'PASS':
      case 'AUTH':
      case 'STLS':
        return this.bad('Already authenticated');
      default:
        return this.bad('Unknown command');
    }
  }

  private noArgs(args: string[], fn: () => void): void {
    if (args.length) return this.bad('No arguments expected');
    this.badCommands = 0;
    fn();
  }

  private capa(args: string[]): void {
    if (args.length) return this.bad('No arguments expected');
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'IMPLEMENTATION mailfleet'];
    if (this.state === 'AUTHORIZATION') {
      // RFC 2595 §4 / RFC 2449: do not advertise what would be refused.
      if (this.plaintextOk()) caps.push('USER', 'SASL PLAIN');
      if (this.opts.tls && !this.secure) caps.push('STLS');
    }
    this.send('+OK Capability list follows');
    for (const c of caps) this.send(c);
    this.send('.');
  }

  private async quit(args: string[]): Promise<void> {
    if (args.length) return this.bad('No arguments expected');
    if (this.state !== 'TRANSACTION') {
      this.send(`+OK ${this.opts.hostname} POP3 signing off`);
      return this.end();
    }
    // RFC 1939 §6: QUIT in TRANSACTION enters UPDATE and removes deleted messages.
    this.state = 'UPDATE';
    const doomed = this.messages.filter((e) => e.deleted).map((e) => e.uid);
    let ok = true;
    if (doomed.length && this.maildrop) {
      try {
        const removed = await this.maildrop.expunge(doomed);
        ok = removed.length === doomed.length || doomed.every((u) => removed.includes(u));
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'expunge at QUIT failed');
        ok = false;
      }
    }
    const live = this.live().length;
    // Release the maildrop lock before answering, so a client that reconnects
    // right after +OK does not meet its own lock ([IN-USE]).
    const md = this.maildrop;
    this.maildrop = undefined;
    if (md) await md.close().catch((err: unknown) => this.log.warn({ err: String(err) }, 'closing maildrop failed'));
    this.send(ok ? `+OK ${this.opts.hostname} POP3 signing off (${live} messages left)` : '-ERR [SYS/TEMP] Some deleted messages not removed');
    this.end();
  }

  private userCmd(arg: string): void {
    if (!this.plaintextOk()) return this.bad('[AUTH] Plaintext authentication disallowed on non-encrypted connections');
    if (!arg || arg.length > 255) return this.bad('Missing or invalid user name');
    this.pendingUser = arg;
    this.badCommands = 0;
    this.send('+OK');
  }

  private async passCmd(arg: string): Promise<void> {
    if (!this.plaintextOk()) return this.bad('[AUTH] Plaintext authentication disallowed on non-encrypted connections');
    const user = this.pendingUser;
    this.pendingUser = undefined;
    if (!user) return this.bad('USER first');
    // RFC 1939 §7: the password is the rest of the line and may contain spaces.
    if (!arg) return this.bad('Missing password');
    await this.login(user, arg);
  }

  private async authCmd(args: string[]): Promise<void> {
    if (!args.length) {
      // Common practice (RFC 5034 leaves it open): list mechanisms.
      this.send('+OK');
      if (this.plaintextOk()) this.send('PLAIN');
      this.send('.');
      return;
    }
    if (args[0].toUpperCase() !== 'PLAIN') return this.bad('Unsupported authentication mechanism');
    if (args.length > 2) return this.bad('Invalid arguments');
    if (!this.plaintextOk()) return this.bad('[AUTH] Plaintext authentication disallowed on non-encrypted connections');
    const finish = async (b64: string): Promise<void> => {
      // RFC 5034 §4: "*" cancels the exchange.
      if (b64 === '*') return this.bad('Authentication cancelled');
      // RFC 5034 §4: "=" is an empty initial response.
      const decoded = decodeSaslPlain(b64 === '=' ? '' : b64);
      if (!decoded.ok) return this.bad(decoded.error);
      if (decoded.creds.authzid && decoded.creds.authzid.toLowerCase() !== decoded.creds.username.toLowerCase()) {
        return this.bad('[AUTH] Authorization identity not permitted');
      }
      await this.login(decoded.creds.username, decoded.creds.password);
    };
    if (args.length === 2) return finish(args[1]);
    this.send('+ ');
    this.saslContinuation = finish;
  }

  private async login(username: string, password: string): Promise<void> {
    const res = await this.opts.auth.login(username, password, { ip: this.opts.remoteIp, protocol: 'pop3' });
    if (this.isClosed()) return;
    if (!res.ok) {
      if (res.reason === 'unavailable') return this.bad('[SYS/TEMP] Authentication service unavailable');
      if (res.reason === 'throttled') return this.bad('[LOGIN-DELAY] Too many failed logins, try later');
      return this.bad('[AUTH] Authentication failed');
    }
    let maildrop: Pop3Maildrop | undefined;
    try {
      maildrop = await this.opts.backend.openMaildrop(res.user);
      const list = await maildrop.list();
      this.messages = list.map((m) => ({ ...m, deleted: false }));
    } catch (err) {
      await maildrop?.close().catch(() => undefined);
      if (err instanceof MaildropInUseError) {
        this.log.info({ user: res.user.address }, 'maildrop in use');
        this.send('-ERR [IN-USE] Mailbox is in use by another POP3 session');
        return;
      }
      this.log.error({ err: (err as Error).message, user: res.user.address }, 'cannot open maildrop');
      this.send('-ERR [SYS/TEMP] Unable to open maildrop');
      return;
    }
    if (this.isClosed()) {
      await maildrop.close().catch(() => undefined);
      return;
    }
    this.maildrop = maildrop;
    this.user = res.user;
    this.log = this.log.child({ user: res.user.address });
    this.state = 'TRANSACTION';
    this.badCommands = 0;
    this.send(`+OK Logged in, ${this.messages.length} messages (${sum(this.messages)} octets)`);
  }

  private async stls(args: string[]): Promise<void> {
    if (args.length) return this.bad('No arguments expected');
    if (!this.opts.tls) return this.bad('TLS not available');
    if (this.secure) return this.bad('Already using TLS');
    this.send('+OK Begin TLS negotiation');
    if (this.timer) clearTimeout(this.timer);
    try {
      this.socket = await startTls({
        socket: this.socket as Socket,
        context: this.opts.tls.context,
        detach: this.detach,
        // RFC 2595 §4 and CVE-2011-0411: forget anything pipelined after STLS.
        discard: () => {
          this.queue = [];
          this.splitter.reset();
          this.pendingUser = undefined;
        },
      });
    } catch (err) {
      this.log.info({ err: (err as Error).message }, 'TLS handshake failed');
      void this.cleanup();
      return;
    }
    this.secure = true;
    this.attach(this.socket);
    this.touch();
  }

  private isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  private live(): Entry[] {
    return this.messages.filter((e) => !e.deleted);
  }

  private stat(): void {
    const live = this.live();
    this.send(`+OK ${live.length} ${sum(live)}`);
  }

  /** Resolves a message-number argument (RFC 1939 §5: 1-based, deleted ones do not exist). */
  private pick(arg: string | undefined): Entry | string {
    if (arg === undefined || !/^[1-9][0-9]{0,9}$/.test(arg)) return 'Invalid message number';
    const e = this.messages[Number(arg) - 1];
    if (!e) return 'No such message';
    if (e.deleted) return 'Message is deleted';
    return e;
  }

  private listCmd(args: string[], uidl: boolean): void {
    if (args.length > 1) return this.bad('Too many arguments');
    const show = (e: Entry, i: number): string => `${i + 1} ${uidl ? e.uniqueId : e.size}`;
    if (args.length === 1) {
      const e = this.pick(args[0]);
      if (typeof e === 'string') return this.bad(e);
      this.badCommands = 0;
      return this.send(`+OK ${show(e, this.messages.indexOf(e))}`);
    }
    this.badCommands = 0;
    const live = this.live();
    this.send(uidl ? '+OK Unique-ID listing follows' : `+OK ${live.length} messages (${sum(live)} octets)`);
    this.messages.forEach((e, i) => {
      if (!e.deleted) this.send(show(e, i));
    });
    this.send('.');
  }

  private async retr(args: string[]): Promise<void> {
    if (args.length !== 1) return this.bad('Usage: RETR msg');
    const e = this.pick(args[0]);
    if (typeof e === 'string') return this.bad(e);
    const body = await this.readMessage(e);
    if (!body) return;
    this.badCommands = 0;
    this.send(`+OK ${e.size} octets`);
    await this.sendMultiline(body, Infinity);
  }

  private async top(args: string[]): Promise<void> {
    if (args.length !== 2) return this.bad('Usage: TOP msg n');
    const e = this.pick(args[0]);
    if (typeof e === 'string') return this.bad(e);
    if (!/^[0-9]{1,9}$/.test(args[1])) return this.bad('Invalid line count');
    const body = await this.readMessage(e);
    if (!body) return;
    this.badCommands = 0;
    this.send('+OK Top of message follows');
    await this.sendMultiline(body, Number(args[1]));
  }

  private async readMessage(e: Entry): Promise<Buffer | undefined> {
    try {
      return await (this.maildrop as Pop3Maildrop).read(e.uid);
    } catch (err) {
      this.log.info({ uid: e.uid, err: (err as Error).message }, 'message unreadable');
      this.send('-ERR [SYS/TEMP] Message no longer available');
      return undefined;
    }
  }

  private dele(args: string[]): void {
    if (args.length !== 1) return this.bad('Usage: DELE msg');
    const e = this.pick(args[0]);
    if (typeof e === 'string') return this.bad(e);
    e.deleted = true;
    this.badCommands = 0;
    this.send(`+OK Message ${args[0]} deleted`);
  }

  /**
   * Sends a message as a multi-line response (RFC 1939 §3): CRLF line ends,
   * lines starting with "." get another ".", then ".". With a finite
   * `bodyLines`, only the header, the blank line and that many body lines (TOP).
   */
  private async sendMultiline(msg: Buffer, bodyLines: number): Promise<void> {
    const text = msg.toString('latin1'); // byte-transparent
    const lines = text.split(/\r?\n/);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    const out: string[] = [];
    let inBody = false;
    let count = 0;
    for (const l of lines) {
      if (inBody) {
        if (count >= bodyLines) break;
        count++;
      } else if (l === '') inBody = true;
      out.push(l.startsWith('.') ? `.${l}` : l);
      if (out.length >= 256) await this.flush(out);
    }
    out.push('.');
    await this.flush(out);
  }

  private async flush(out: string[]): Promise<void> {
    if (this.state === 'CLOSED' || this.socket.destroyed) {
      out.length = 0;
      return;
    }
    const ok = this.socket.write(Buffer.from(`${out.join('\r\n')}\r\n`, 'latin1'));
    out.length = 0;
    if (!ok) await new Promise<void>((r) => {
      const done = (): void => {
        this.socket.removeListener('drain', done);
        this.socket.removeListener('close', done);
        r();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }
}

function sum(list: { size: number }[]): number {
  return list.reduce((n, e) => n + e.size, 0);
}
