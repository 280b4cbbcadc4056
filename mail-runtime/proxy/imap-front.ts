import { setTimeout as sleep } from 'node:timers/promises';
import { decodeSaslPlain, encodeSaslPlain } from '../auth';
import { capabilities as imapCapabilities } from '../imap';
import { CommandReader, asAstring, asAtom, type ImapCommand } from '../imap/protocol';
import type { AcceptedConnection, RefusalReason } from '../net';
import type { BackendConnection } from './backend';
import { backendRoute, openBackend, PROXY_LIMITS, type FrontServices } from './front';
import { PreAuthFront } from './pre-auth';

/** The greeting for a connection over `limits.maxConnections` (RFC 3501 §7.1.5, RFC 5530 UNAVAILABLE). */
export const IMAP_REFUSALS: Record<RefusalReason, Buffer> = {
  total: Buffer.from('* BYE [UNAVAILABLE] Too many connections, try again later\r\n'),
  address: Buffer.from('* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n'),
};

/** Tag of the login we replay on the node; the node's tagged answer is passed on with the client's tag. */
const BACKEND_TAG = 'P1';

type Credentials = { user: string; pass: string; mech: 'login' | 'plain' };

/**
 * One IMAP client before login (RFC 3501 §6.1, §6.2): the proxy answers
 * CAPABILITY, NOOP, LOGOUT, ID, STARTTLS itself, reads the user from LOGIN
 * or AUTHENTICATE PLAIN (with SASL-IR, RFC 4959), replays that login on the
 * owner node, passes the node's tagged answer back and, when it is OK,
 * pipes the connection to the node. It never checks a password.
 */
export class ImapFront extends PreAuthFront {
  private reader: CommandReader;
  /** AUTHENTICATE is waiting for the client's response line. */
  private saslPending: ((response: string) => void) | undefined;

  constructor(conn: AcceptedConnection, s: FrontServices) {
    super(conn, s, {
      loginTimeout: '* BYE Login timeout, closing connection',
      shuttingDown: '* BYE Server shutting down',
      tooManyBad: '* BYE Too many invalid commands',
      destroyWhenWritten: true,
    });
    this.reader = this.newReader();
  }

  private newReader(): CommandReader {
    return new CommandReader({
      maxLineBytes: PROXY_LIMITS.imapPreAuthLineBytes,
      maxLiteralBytes: PROXY_LIMITS.imapPreAuthLiteralBytes,
      maxNonSyncLiteralBytes: PROXY_LIMITS.imapPreAuthLiteralBytes,
    });
  }

  /**
   * The node's own pre-login list (imap/commands/capabilities.ts) for this
   * connection's TLS and plaintext state: a client decides what to use from
   * the greeting, before it knows a proxy is in between (RFC 3501 §7.2.1),
   * and after login the node's LOGIN reply carries the full list.
   */
  private capabilities(): string {
    return imapCapabilities({ state: 'NOT_AUTHENTICATED', secure: this.secure, tls: Boolean(this.s.tlsContext), plaintextAllowed: this.plaintextOk }).join(' ');
  }

  protected greeting(): string {
    return `* OK [CAPABILITY ${this.capabilities()}] mailfleet proxy ready`;
  }

  protected onBytes(d: Buffer): void {
    this.reader.push(d);
    this.pump();
  }

  protected takePending(): Buffer {
    return this.reader.takeUnread();
  }

  /** Runs commands until one needs to wait (a login in flight, STARTTLS). */
  protected pump(): void {
    while (!this.busy && !this.closed && !this.spliced) {
      const ev = this.reader.next();
      if (!ev) return;
      if (ev.type === 'continue') this.send('+ Ready for literal data');
      else if (ev.type === 'error') this.parseError(ev.error);
      else if (ev.type === 'command') this.command(ev.command);
      else {
        // A raw line: only ever the answer to AUTHENTICATE's challenge (readRawLine).
        const answer = this.saslPending;
        this.saslPending = undefined;
        if (ev.type === 'line') answer?.(ev.line.toString('latin1'));
        else {
          this.send('* BAD Line too long');
          this.countBad();
        }
      }
    }
  }

  private parseError(e: { tag: string | null; text: string; code: string; fatal: boolean }): void {
    if (this.saslPending) {
      this.saslPending = undefined;
      this.reader.cancelRawLine();
    }
    if (e.fatal) return this.bye(`* BYE ${e.text}`);
    const tag = e.tag ?? '*';
    if (e.code === 'TOOBIG') this.send(`${tag} NO [TOOBIG] ${e.text}`);
    else this.send(`${tag} BAD ${e.text}`);
    this.countBad();
  }

  private command(c: ImapCommand): void {
    switch (c.uid ? '' : c.name) {
      case 'CAPABILITY':
        this.send(`* CAPABILITY ${this.capabilities()}`);
        return this.send(`${c.tag} OK CAPABILITY completed`);
      case 'NOOP':
        return this.send(`${c.tag} OK NOOP completed`);
      case 'ID':
        // RFC 2971 §3.1: the server answers with its own parameters (or NIL).
        this.send('* ID ("name" "mailfleet-proxy")');
        return this.send(`${c.tag} OK ID completed`);
      case 'LOGOUT':
        this.send('* BYE Logging out');
        this.send(`${c.tag} OK LOGOUT completed`);
        this.socket.end();
        return this.finish();
      case 'STARTTLS':
        return this.starttls(c.tag);
      case 'LOGIN': {
        const user = asAstring(c.args[0]);
        const pass = asAstring(c.args[1]);
        if (c.args.length !== 2 || user === undefined || pass === undefined || !user || user.length > 255) {
          this.send(`${c.tag} BAD LOGIN needs a user name and a password`);
          this.countBad();
          return;
        }
        return this.login(c.tag, { user, pass, mech: 'login' });
      }
      case 'AUTHENTICATE':
        return this.authenticate(c);
      default:
        this.send(`${c.tag} BAD Log in first (LOGIN or AUTHENTICATE PLAIN)`);
        this.countBad();
    }
  }

  private starttls(tag: string): void {
    if (!this.s.tlsContext || this.secure) {
      this.send(`${tag} BAD STARTTLS not available${this.secure ? ': already secure' : ''}`);
      this.countBad();
      return;
    }
    // RFC 3501 §6.2.1 / CVE-2011-0411: nothing sent in the clear after STARTTLS is run.
    this.upgrade(`${tag} OK Begin TLS negotiation now`, () => {
      this.reader = this.newReader();
    });
  }

  private authenticate(c: ImapCommand): void {
    const mech = asAtom(c.args[0], true);
    if (c.args.length < 1 || c.args.length > 2 || !mech) {
      this.send(`${c.tag} BAD AUTHENTICATE needs a mechanism`);
      this.countBad();
      return;
    }
    if (mech !== 'PLAIN') {
      this.send(`${c.tag} NO [CANNOT] Unsupported authentication mechanism`);
      this.countBad();
      return;
    }
    if (!this.plaintextOk) return this.privacyRequired(c.tag);
    const withResponse = (response: string): void => {
      // RFC 3501 §6.2.2: "*" cancels; RFC 4959: "=" is an empty initial response.
      if (response === '*') {
        this.send(`${c.tag} BAD Authentication cancelled`);
        return;
      }
      const decoded = decodeSaslPlain(response === '=' ? '' : response);
      if (!decoded.ok) {
        this.send(`${c.tag} BAD ${decoded.error}`);
        this.countBad();
        return;
      }
      const { authzid, username, password } = decoded.creds;
      if (authzid && authzid.toLowerCase() !== username.toLowerCase()) {
        this.send(`${c.tag} NO [AUTHORIZATIONFAILED] Authorization identity not permitted`);
        return;
      }
      this.login(c.tag, { user: username, pass: password, mech: 'plain' });
    };
    if (c.args.length === 2) {
      const initial = asAtom(c.args[1]);
      if (initial === undefined) {
        this.send(`${c.tag} BAD Invalid initial response`);
        this.countBad();
        return;
      }
      return withResponse(initial);
    }
    // RFC 3501 §6.2.2: an empty challenge; the next line is the client's response, read raw.
    this.send('+ ');
    this.reader.readRawLine();
    this.saslPending = withResponse;
  }

  private privacyRequired(tag: string): void {
    this.send(`${tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-encrypted connections, use STARTTLS`);
  }

  /** Routes the login to the owner node and replays it there; the node decides. */
  private login(tag: string, cred: Credentials): void {
    if (!this.plaintextOk) return this.privacyRequired(tag);
    this.whileLoggingIn(() => this.replay(tag, cred));
  }

  private async replay(tag: string, cred: Credentials): Promise<void> {
    const { s } = this;
    const ip = this.conn.remoteIp;
    const log = s.log.child({ cid: this.conn.id, user: cred.user, protocol: 'imap' });
    const verdict = await s.limiter.check(cred.user, ip);
    if (!verdict.allowed) {
      log.warn({ ip, limit: verdict.reason }, 'login refused by the proxy: too many failures');
      s.countLogin('imap', 'throttled');
      this.send(`${tag} NO [UNAVAILABLE] Too many failed logins, try later`);
      return;
    }
    // The per-user slow-down (auth/limiter.ts) applies before the node is asked, as it would before a password check.
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    const route = backendRoute(s, cred.user, 'imap');
    if ('error' in route) {
      log.warn({ ip, why: route.error, node: route.node }, 'login: no node to route to');
      s.countLogin('imap', 'unavailable');
      this.send(`${tag} NO [UNAVAILABLE] Mailbox temporarily unavailable, try again later`);
      return;
    }
    let backend: BackendConnection | undefined;
    try {
      backend = await openBackend(s, this.conn, route, cred.user);
      const greeting = await backend.readLine(s.backendTimeoutMs);
      if (!greeting.startsWith('* OK')) throw new Error(`node greeted with "${greeting.slice(0, 80)}"`);
      backend.write(
        cred.mech === 'plain'
          ? `${BACKEND_TAG} AUTHENTICATE PLAIN ${encodeSaslPlain(cred.user, cred.pass)}\r\n`
          : Buffer.concat([Buffer.from(`${BACKEND_TAG} LOGIN `), imapString(cred.user), Buffer.from(' '), imapString(cred.pass), Buffer.from('\r\n')]),
      );
      const untagged: string[] = [];
      let answer: string;
      for (;;) {
        const line = await backend.readLine(s.backendTimeoutMs);
        if (line.startsWith(`${BACKEND_TAG} `)) {
          answer = line.slice(BACKEND_TAG.length + 1);
          break;
        }
        if (untagged.length >= 16) throw new Error('node sent too many lines before its login answer');
        untagged.push(line);
      }
      if (this.closed) {
        backend.destroy();
        return;
      }
      if (answer.startsWith('OK')) {
        await s.limiter.succeeded(cred.user, ip);
        s.countLogin('imap', 'ok');
        log.info({ ip, node: route.node }, 'login routed');
        for (const l of untagged) this.send(l);
        this.send(`${tag} ${answer}`);
        this.handOver(backend, cred.user, route.node, route.incarnation);
        return;
      }
      backend.destroy();
      await s.limiter.failed(cred.user, ip);
      s.countLogin('imap', 'failed');
      log.info({ ip, node: route.node }, 'login failed at the node');
      // The node's own answer (NO [AUTHENTICATIONFAILED], [UNAVAILABLE]...), with the client's tag.
      this.send(`${tag} ${answer}`);
      // limits.loginFailuresPerConnection: more is guessing.
      if (++this.failures >= s.failuresPerConnection) this.bye('* BYE Too many failed logins on this connection');
    } catch (err) {
      backend?.destroy();
      log.warn({ ip, node: route.node, err: (err as Error).message }, 'login: node unreachable');
      s.countLogin('imap', 'unavailable');
      this.send(`${tag} NO [UNAVAILABLE] Mailbox temporarily unavailable, try again later`);
    }
  }
}

/** A quoted string when the bytes allow one (RFC 3501 §9 quoted), else a LITERAL+ literal (RFC 7888), which the node accepts up to 4 KiB. */
function imapString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (/^[\x20-\x7e]*$/.test(text)) return Buffer.from(`"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  return Buffer.concat([Buffer.from(`{${bytes.length}+}\r\n`), bytes]);
}
