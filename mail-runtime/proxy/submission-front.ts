import { setTimeout as sleep } from 'node:timers/promises';
import { decodeSaslPlain, encodeSaslPlain } from '../auth';
import type { AcceptedConnection, RefusalReason } from '../net';
import type { BackendConnection } from './backend';
import { backendRoute, openBackend, type FrontServices } from './front';
import { LineFront } from './pre-auth';

/** RFC 5321 §3.1: a server that cannot serve now greets with 421. */
export const SUBMISSION_REFUSALS: Record<RefusalReason, Buffer> = {
  total: Buffer.from('421 4.7.0 Too many connections, try again later\r\n'),
  address: Buffer.from('421 4.7.0 Too many connections from your address, try again later\r\n'),
};

/** RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; an AUTH line with its SASL response (RFC 4954 §4) needs more. */
const SUBMISSION_LINE_BYTES = 12_288;
/** Lines of a node's multi-line reply (greeting, EHLO) we read before its last one; more is not SMTP. */
const MAX_REPLY_LINES = 64;

type Credentials = { user: string; pass: string };

/** RFC 4954 §4 / RFC 3207 §4 replies the proxy gives itself. */
const R = {
  privacy: '538 5.7.11 Encryption required for requested authentication mechanism',
  authFirst: '530 5.7.0 Authentication required',
  ehloFirst: '503 5.5.1 EHLO first',
  cancelled: '501 5.7.0 Authentication cancelled',
  unavailable: '454 4.7.0 Temporary authentication failure, try again later',
  throttled: '454 4.7.0 Too many failed logins, try again later',
  tooMany: '421 4.7.0 Too many failed logins on this connection',
} as const;

/**
 * One submission client (RFC 6409) before it has authenticated: EHLO/HELO,
 * STARTTLS (RFC 3207), AUTH PLAIN (RFC 4616) and LOGIN, NOOP, RSET, QUIT
 * are answered here; the credentials are replayed on the owner node's
 * submission port (the client's EHLO name, then AUTH PLAIN), its answer is
 * passed on, and after `235` the connection is piped to the node, which
 * then handles the mail transaction as for a client of its own.
 */
export class SubmissionFront extends LineFront {
  private ehlo: string | undefined;
  /** A SASL exchange waiting for the client's next line. */
  private sasl: { mech: 'PLAIN' } | { mech: 'LOGIN'; user?: string } | undefined;

  constructor(
    conn: AcceptedConnection,
    s: FrontServices,
    private readonly hostname: string,
  ) {
    super(
      conn,
      s,
      { loginTimeout: '421 4.4.2 Login timeout, closing connection', shuttingDown: '421 4.3.2 Service shutting down', tooManyBad: '421 4.7.0 Too many invalid commands', destroyWhenWritten: false },
      SUBMISSION_LINE_BYTES,
      '500 5.5.2 Line too long',
    );
  }

  protected greeting(): string {
    return `220 ${this.hostname} ESMTP mailfleet proxy`;
  }

  protected line(text: string): void {
    if (this.sasl) return this.saslStep(text);
    const sp = text.indexOf(' ');
    const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : text.slice(sp + 1).trim();
    switch (verb) {
      case 'EHLO':
      case 'HELO': {
        if (!arg || /[\s\x00-\x1f\x7f]/.test(arg) || arg.length > 255) {
          this.send('501 5.5.4 EHLO needs a domain or address literal');
          return this.countBad();
        }
        this.ehlo = arg;
        if (verb === 'HELO') return this.send(`250 ${this.hostname}`);
        const ext = ['ENHANCEDSTATUSCODES', '8BITMIME'];
        if (this.s.tlsContext && !this.secure) ext.push('STARTTLS');
        if (this.plaintextOk) ext.push('AUTH PLAIN LOGIN');
        this.send(`250-${this.hostname} greets ${arg}`);
        ext.forEach((e, i) => this.send(`250${i === ext.length - 1 ? ' ' : '-'}${e}`));
        return;
      }
      case 'STARTTLS':
        return this.starttls();
      case 'AUTH':
        return this.auth(arg);
      case 'NOOP':
      case 'RSET':
        return this.send('250 2.0.0 OK');
      case 'QUIT':
        this.send('221 2.0.0 Bye');
        this.socket.end();
        return this.finish();
      case 'MAIL':
      case 'RCPT':
      case 'DATA':
      case 'BDAT':
        // RFC 6409 §4.3: submission requires authentication before a transaction.
        this.send(R.authFirst);
        return this.countBad();
      default:
        this.send('502 5.5.1 Command not recognised before authentication');
        this.countBad();
    }
  }

  private auth(arg: string): void {
    if (!this.ehlo) {
      this.send(R.ehloFirst);
      return this.countBad();
    }
    const [mech, initial, extra] = arg.split(' ').filter((x) => x !== '');
    const m = mech?.toUpperCase();
    if ((m !== 'PLAIN' && m !== 'LOGIN') || extra !== undefined) {
      this.send('504 5.5.4 Unrecognised authentication type');
      return this.countBad();
    }
    if (!this.plaintextOk) return this.send(R.privacy);
    if (m === 'PLAIN') {
      if (initial !== undefined) return this.plain(initial);
      this.sasl = { mech: 'PLAIN' };
      return this.send('334 ');
    }
    if (initial !== undefined) {
      this.sasl = { mech: 'LOGIN', user: base64Text(initial) };
      return this.send(`334 ${Buffer.from('Password:').toString('base64')}`);
    }
    this.sasl = { mech: 'LOGIN' };
    this.send(`334 ${Buffer.from('Username:').toString('base64')}`);
  }

  /** The client's line during a SASL exchange (RFC 4954 §4: `*` cancels). */
  private saslStep(text: string): void {
    const sasl = this.sasl!;
    this.sasl = undefined;
    if (text === '*') return this.send(R.cancelled);
    if (sasl.mech === 'PLAIN') return this.plain(text);
    if (sasl.user === undefined) {
      this.sasl = { mech: 'LOGIN', user: base64Text(text) };
      return this.send(`334 ${Buffer.from('Password:').toString('base64')}`);
    }
    this.login({ user: sasl.user, pass: base64Text(text) });
  }

  private plain(response: string): void {
    const decoded = decodeSaslPlain(response === '=' ? '' : response);
    if (!decoded.ok) {
      this.send(`501 5.5.2 ${decoded.error}`);
      return this.countBad();
    }
    const { authzid, username, password } = decoded.creds;
    if (authzid && authzid.toLowerCase() !== username.toLowerCase()) return this.send('535 5.7.8 Authorization identity not permitted');
    this.login({ user: username, pass: password });
  }

  private starttls(): void {
    if (!this.s.tlsContext || this.secure) {
      this.send('502 5.5.1 STARTTLS not available');
      this.countBad();
      return;
    }
    // RFC 3207 §4.2: the client starts over with EHLO; nothing read in the clear survives (CVE-2011-0411).
    this.upgrade('220 2.0.0 Ready to start TLS', () => {
      this.buf = Buffer.alloc(0);
      this.ehlo = undefined;
      this.skipping = false;
    });
  }

  private login(cred: Credentials): void {
    if (!cred.user || /[\x00-\x1f\x7f]/.test(cred.user)) {
      this.send('501 5.5.2 Invalid user name');
      return this.countBad();
    }
    this.whileLoggingIn(() => this.replay(cred));
  }

  /** A node's reply (RFC 5321 §4.2: `ddd-` lines, then `ddd `): its last line. */
  private async reply(backend: BackendConnection): Promise<string> {
    for (let i = 0; i < MAX_REPLY_LINES; i++) {
      const line = await backend.readLine(this.s.backendTimeoutMs);
      if (!/^\d{3}[ -]/.test(line) && !/^\d{3}$/.test(line)) throw new Error(`node answered "${line.slice(0, 80)}"`);
      if (line[3] !== '-') return line;
    }
    throw new Error('node reply too long');
  }

  private async replay(cred: Credentials): Promise<void> {
    const { s } = this;
    const ip = this.conn.remoteIp;
    const log = s.log.child({ cid: this.conn.id, user: cred.user, protocol: 'submission' });
    const verdict = await s.limiter.check(cred.user, ip);
    if (!verdict.allowed) {
      log.warn({ ip, limit: verdict.reason }, 'login refused by the proxy: too many failures');
      s.countLogin('submission', 'throttled');
      this.send(R.throttled);
      return;
    }
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    // The node's submission port (587, or 465 when the hop is TLS): the proxy → node hop carries the login as the IMAP and POP3 fronts' do.
    const target = backendRoute(s, cred.user, 'submission');
    if ('error' in target) {
      log.warn({ ip, why: target.error, node: target.node }, 'login: no node to route to');
      s.countLogin('submission', 'unavailable');
      this.send(R.unavailable);
      return;
    }
    let backend: BackendConnection | undefined;
    try {
      backend = await openBackend(s, this.conn, target, cred.user);
      const greeting = await this.reply(backend);
      if (!greeting.startsWith('220')) throw new Error(`node greeted with "${greeting.slice(0, 80)}"`);
      backend.write(`EHLO ${this.ehlo ?? this.hostname}\r\n`);
      const ehlo = await this.reply(backend);
      if (!ehlo.startsWith('250')) throw new Error(`node answered EHLO with "${ehlo.slice(0, 80)}"`);
      backend.write(`AUTH PLAIN ${encodeSaslPlain(cred.user, cred.pass)}\r\n`);
      const answer = await this.reply(backend);
      if (this.closed) {
        backend.destroy();
        return;
      }
      if (answer.startsWith('235')) {
        await s.limiter.succeeded(cred.user, ip);
        s.countLogin('submission', 'ok');
        log.info({ ip, node: target.node }, 'login routed');
        this.send(answer);
        this.handOver(backend, cred.user, target.node, target.incarnation);
        return;
      }
      backend.destroy();
      await s.limiter.failed(cred.user, ip);
      s.countLogin('submission', 'failed');
      log.info({ ip, node: target.node }, 'login failed at the node');
      this.send(/^5\d\d /.test(answer) || /^4\d\d /.test(answer) ? answer : '535 5.7.8 Authentication credentials invalid');
      if (++this.failures >= s.failuresPerConnection) this.bye(R.tooMany);
    } catch (err) {
      backend?.destroy();
      log.warn({ ip, node: target.node, err: (err as Error).message }, 'login: node unreachable');
      s.countLogin('submission', 'unavailable');
      this.send(R.unavailable);
    }
  }
}

/** A SASL LOGIN response (base64 of the text). */
function base64Text(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}
