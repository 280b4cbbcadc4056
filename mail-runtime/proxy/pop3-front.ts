import { setTimeout as sleep } from 'node:timers/promises';
import { decodeSaslPlain, encodeSaslPlain } from '../auth';
import type { AcceptedConnection, RefusalReason } from '../net';
import type { BackendConnection } from './backend';
import { backendRoute, openBackend, PROXY_LIMITS, type FrontServices } from './front';
import { LineFront } from './pre-auth';

/** The greeting for a connection over `limits.maxConnections` (RFC 2449 §8.1.2 / RFC 3206 §4 SYS/TEMP). */
export const POP3_REFUSALS: Record<RefusalReason, Buffer> = {
  total: Buffer.from('-ERR [SYS/TEMP] Too many connections, try again later\r\n'),
  address: Buffer.from('-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n'),
};

type Credentials = { user: string; pass: string; mech: 'user' | 'plain' };

const PRIVACY = '-ERR [AUTH] Plaintext authentication disallowed on non-encrypted connections, use STLS';

/**
 * One POP3 client in the AUTHORIZATION state (RFC 1939 §4): CAPA (RFC 2449),
 * STLS (RFC 2595 §4), USER/PASS, AUTH PLAIN (RFC 5034) and QUIT are answered
 * here; the credentials are replayed on the owner node, its answer is passed
 * on, and after `+OK` the connection is piped to the node.
 */
export class Pop3Front extends LineFront {
  private user: string | undefined;
  /** AUTH PLAIN is waiting for the client's response line. */
  private saslPending = false;

  constructor(conn: AcceptedConnection, s: FrontServices) {
    super(
      conn,
      s,
      { loginTimeout: '-ERR Login timeout, closing connection', shuttingDown: '-ERR [SYS/TEMP] Server shutting down', tooManyBad: '-ERR Too many invalid commands', destroyWhenWritten: false },
      PROXY_LIMITS.pop3LineBytes,
      '-ERR Line too long',
    );
  }

  protected greeting(): string {
    return '+OK mailfleet proxy ready';
  }

  protected line(text: string): void {
    if (this.saslPending) {
      this.saslPending = false;
      return this.plain(text);
    }
    const sp = text.indexOf(' ');
    const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : text.slice(sp + 1);
    switch (verb) {
      case 'CAPA': {
        // RFC 2449 §5; USER and SASL only where plaintext credentials are allowed (RFC 2595 §4).
        const caps = ['CAPA', 'RESP-CODES', 'AUTH-RESP-CODE'];
        if (this.s.tlsContext && !this.secure) caps.push('STLS');
        if (this.plaintextOk) caps.push('USER', 'SASL PLAIN');
        caps.push('IMPLEMENTATION mailfleet-proxy');
        this.send('+OK Capability list follows');
        for (const c of caps) this.send(c);
        return this.send('.');
      }
      case 'NOOP':
        // Valid only in the TRANSACTION state (RFC 1939 §5).
        this.send('-ERR Log in first');
        return this.countBad();
      case 'QUIT':
        this.send('+OK Bye');
        this.socket.end();
        return this.finish();
      case 'STLS':
        return this.stls();
      case 'USER':
        if (!this.plaintextOk) return this.send(PRIVACY);
        if (!arg || arg.length > 255 || /\s/.test(arg.trim())) {
          this.send('-ERR USER needs one user name');
          return this.countBad();
        }
        this.user = arg.trim();
        return this.send('+OK Send PASS');
      case 'PASS': {
        if (!this.plaintextOk) return this.send(PRIVACY);
        const user = this.user;
        this.user = undefined;
        if (!user) {
          this.send('-ERR USER first');
          return this.countBad();
        }
        return this.login({ user, pass: arg, mech: 'user' });
      }
      case 'AUTH': {
        const [mech, initial, extra] = arg.split(' ').filter((x) => x !== '');
        if (mech === undefined) {
          // Mechanism list (common practice; RFC 5034 leaves it open).
          this.send('+OK');
          if (this.plaintextOk) this.send('PLAIN');
          return this.send('.');
        }
        if (mech.toUpperCase() !== 'PLAIN' || extra !== undefined) {
          this.send('-ERR Unsupported authentication mechanism');
          return this.countBad();
        }
        if (!this.plaintextOk) return this.send(PRIVACY);
        if (initial !== undefined) return this.plain(initial);
        // RFC 5034 §4: an empty challenge, then the client's response on its own line.
        this.saslPending = true;
        return this.send('+ ');
      }
      default:
        this.send('-ERR Log in first (USER/PASS or AUTH PLAIN)');
        this.countBad();
    }
  }

  private plain(response: string): void {
    if (response === '*') return this.send('-ERR Authentication cancelled');
    const decoded = decodeSaslPlain(response === '=' ? '' : response);
    if (!decoded.ok) {
      this.send(`-ERR ${decoded.error}`);
      return this.countBad();
    }
    const { authzid, username, password } = decoded.creds;
    if (authzid && authzid.toLowerCase() !== username.toLowerCase()) return this.send('-ERR [AUTH] Authorization identity not permitted');
    this.login({ user: username, pass: password, mech: 'plain' });
  }

  private stls(): void {
    if (!this.s.tlsContext || this.secure) {
      this.send('-ERR STLS not available');
      this.countBad();
      return;
    }
    // RFC 2595 §4 / CVE-2011-0411: nothing read in the clear survives, not even a USER name.
    this.upgrade('+OK Begin TLS negotiation', () => {
      this.buf = Buffer.alloc(0);
      this.user = undefined;
      this.skipping = false;
    });
  }

  private login(cred: Credentials): void {
    // The credentials go to the node on a line of their own: no control characters may ride along.
    if (/[\x00-\x1f\x7f]/.test(cred.user + cred.pass)) {
      this.send('-ERR Invalid characters in credentials');
      return this.countBad();
    }
    this.whileLoggingIn(() => this.replay(cred));
  }

  private async replay(cred: Credentials): Promise<void> {
    const { s } = this;
    const ip = this.conn.remoteIp;
    const log = s.log.child({ cid: this.conn.id, user: cred.user, protocol: 'pop3' });
    const verdict = await s.limiter.check(cred.user, ip);
    if (!verdict.allowed) {
      log.warn({ ip, limit: verdict.reason }, 'login refused by the proxy: too many failures');
      s.countLogin('pop3', 'throttled');
      this.send('-ERR [SYS/TEMP] Too many failed logins, try later');
      return;
    }
    // The per-user slow-down (auth/limiter.ts) applies before the node is asked, as it would before a password check.
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    const route = backendRoute(s, cred.user, 'pop3');
    if ('error' in route) {
      log.warn({ ip, why: route.error, node: route.node }, 'login: no node to route to');
      s.countLogin('pop3', 'unavailable');
      this.send('-ERR [SYS/TEMP] Mailbox temporarily unavailable, try again later');
      return;
    }
    let backend: BackendConnection | undefined;
    try {
      backend = await openBackend(s, this.conn, route, cred.user);
      const greeting = await backend.readLine(s.backendTimeoutMs);
      if (!greeting.startsWith('+OK')) throw new Error(`node greeted with "${greeting.slice(0, 80)}"`);
      let answer: string;
      if (cred.mech === 'plain') {
        backend.write(`AUTH PLAIN ${encodeSaslPlain(cred.user, cred.pass)}\r\n`);
        answer = await backend.readLine(s.backendTimeoutMs);
      } else {
        backend.write(`USER ${cred.user}\r\n`);
        answer = await backend.readLine(s.backendTimeoutMs);
        if (answer.startsWith('+OK')) {
          backend.write(`PASS ${cred.pass}\r\n`);
          answer = await backend.readLine(s.backendTimeoutMs);
        }
      }
      if (this.closed) {
        backend.destroy();
        return;
      }
      if (answer.startsWith('+OK')) {
        await s.limiter.succeeded(cred.user, ip);
        s.countLogin('pop3', 'ok');
        log.info({ ip, node: route.node }, 'login routed');
        this.send(answer);
        this.handOver(backend, cred.user, route.node, route.incarnation);
        return;
      }
      backend.destroy();
      await s.limiter.failed(cred.user, ip);
      s.countLogin('pop3', 'failed');
      log.info({ ip, node: route.node }, 'login failed at the node');
      this.send(answer.startsWith('-ERR') ? answer : '-ERR [AUTH] Authentication failed');
      // limits.loginFailuresPerConnection: more is guessing.
      if (++this.failures >= s.failuresPerConnection) this.bye('-ERR [AUTH] Too many failed logins on this connection');
    } catch (err) {
      backend?.destroy();
      log.warn({ ip, node: route.node, err: (err as Error).message }, 'login: node unreachable');
      s.countLogin('pop3', 'unavailable');
      this.send('-ERR [SYS/TEMP] Mailbox temporarily unavailable, try again later');
    }
  }
}
