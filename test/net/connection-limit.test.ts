import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionLimit, addressKey, loadTls, serveSessions, type AcceptedConnection, type SessionServer, type ShutdownReason } from '../../mail-runtime/net';
import { LineClient } from '../helpers/line-client';
import { waitFor } from '../helpers/wait';

describe('addressKey: what per-address limits count under', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::10.1.2.3', '64:ff9b:0:0::/64'],
    ['1::2:3:4:5:10.1.2.3', '1:0:2:3::/64'],
  ])('%s → %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });
});

describe('ConnectionLimit', () => {
  it('bounds connections in total and per address; exempt networks count only in total; release is once', () => {
    const refused: string[] = [];
    const limit = new ConnectionLimit(5, { maxPerAddress: 2, perAddressExempt: ['127.0.0.0/8', '::1/128'] }, (reason, ip) => refused.push(`${reason} ${ip}`));
    const a1 = limit.admit('10.0.0.1');
    const a2 = limit.admit('10.0.0.1');
    expect(limit.admit('10.0.0.1')).toEqual({ refused: 'address' });
    expect(limit.fromAddress('10.0.0.1')).toBe(2);
    const lo = [limit.admit('127.0.0.1'), limit.admit('127.0.0.2'), limit.admit('::1')];
    expect(lo.every((a) => 'release' in a)).toBe(true);
    expect(limit.fromAddress('127.0.0.1')).toBe(0);
    expect(limit.admit('10.0.0.2')).toEqual({ refused: 'total' });
    expect(limit.inUse).toBe(5);
    if (!('release' in a1) || !('release' in a2)) throw new Error('admitted');
    a1.release();
    a1.release();
    expect(limit.inUse).toBe(4);
    expect(limit.fromAddress('10.0.0.1')).toBe(1);
    expect('release' in limit.admit('10.0.0.1')).toBe(true);
    expect(refused).toEqual(['address 10.0.0.1', 'total 10.0.0.2']);
  });

  it('counts an IPv6 client by its /64', () => {
    const limit = new ConnectionLimit(100, { maxPerAddress: 2 });
    limit.admit('2001:db8:1:2::1');
    limit.admit('2001:db8:1:2::2');
    expect(limit.admit('2001:db8:1:2:ffff::3')).toEqual({ refused: 'address' });
    expect('release' in limit.admit('2001:db8:1:3::1')).toBe(true);
  });

  it('rejects nonsense settings', () => {
    expect(() => new ConnectionLimit(0)).toThrow(/maxConnections/);
    expect(() => new ConnectionLimit(10, { maxPerAddress: 0 })).toThrow(/maxConnectionsPerAddress/);
    expect(() => new ConnectionLimit(10, { perAddressExempt: ['10.0.0.0'] })).toThrow(/10\.0\.0\.0/);
  });
});

/**
 * serveSessions over real sockets with a stand-in protocol: the session
 * greets, answers each line with "ok", logs in on "login", and says what
 * ended it.
 */
describe('serveSessions: the limits every listener gets', () => {
  const servers: SessionServer[] = [];
  const clients: LineClient[] = [];
  const raw: Socket[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of raw.splice(0)) s.destroy();
    for (const s of servers.splice(0)) await s.close();
  });

  async function serve(limit: ConnectionLimit, kind: 'plain' | 'tls' = 'plain') {
    const ended: ShutdownReason[] = [];
    const tls = kind === 'tls' ? await loadTls(undefined, 'limits.test') : undefined;
    const server = await serveSessions(
      { kind, host: '127.0.0.1', port: 0, tls, limit, refusal: (reason) => Buffer.from(`NO ${reason}\r\n`) },
      (conn: AcceptedConnection) => ({
        start() {
          conn.socket.write('hello\r\n');
          conn.socket.on('data', (d: Buffer) => {
            for (const line of d.toString().split('\r\n').filter(Boolean)) {
              if (line === 'login') conn.onLogin();
              conn.socket.write('ok\r\n');
            }
          });
          conn.socket.once('close', conn.onClose);
        },
        shutdown(reason) {
          ended.push(reason);
          // A client that ignores this and keeps the socket is cut off by the server.
          conn.socket.write(`bye ${reason}\r\n`);
        },
      }),
    );
    servers.push(server);
    return { server, ended };
  }

  async function client(port: number, from: string, tls = false): Promise<LineClient> {
    const c = await LineClient.connect(port, { tls, ...(from ? { localAddress: from } : {}) });
    clients.push(c);
    return c;
  }

  it('refuses past the per-address limit with the protocol refusal; other addresses are served', async () => {
    const { server } = await serve(new ConnectionLimit(10, { maxPerAddress: 2 }));
    const from = async (ip: string) => {
      const s = connect({ host: '127.0.0.1', port: server.port, localAddress: ip });
      raw.push(s);
      s.setEncoding('latin1');
      return new Promise<string>((resolve) => s.once('data', (d: string) => resolve(d.trim())));
    };
    expect(await from('127.91.0.1')).toBe('hello');
    expect(await from('127.91.0.1')).toBe('hello');
    expect(await from('127.91.0.1')).toBe('NO address');
    expect(await from('127.91.0.2')).toBe('hello');
  });

  it('a connection that does not log in is told to go at the deadline, whatever it sends, and cut off if it stays', async () => {
    const { server, ended } = await serve(new ConnectionLimit(10, { loginTimeoutMs: 300 }));
    const c = await client(server.port, '');
    expect(await c.readLine()).toBe('hello');
    // Traffic does not move the deadline: a line every 50 ms, until the server says bye.
    const lines: string[] = [];
    for (let i = 0; i < 200 && !lines.includes('bye login-timeout'); i++) {
      c.send('noop');
      lines.push(await c.readLine());
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lines).toContain('bye login-timeout');
    expect(ended).toEqual(['login-timeout']);
    // The stand-in session never closes its socket: the server does.
    await c.waitClosed(10_000);
  });

  it('after login the deadline no longer applies', async () => {
    // The login must come before the deadline for this to test anything: 3 s, not 200 ms, which a
    // loaded CI machine can spend between accept and our login line (the session then ends first).
    const deadlineMs = 3000;
    const { server, ended } = await serve(new ConnectionLimit(10, { loginTimeoutMs: deadlineMs }));
    const c = await client(server.port, '');
    expect(await c.readLine()).toBe('hello');
    // The server accepted before it greeted: its deadline is at most deadlineMs from now.
    const pastDeadline = Date.now() + deadlineMs + 300;
    c.send('login');
    expect(await c.readLine()).toBe('ok');
    await new Promise((r) => setTimeout(r, Math.max(0, pastDeadline - Date.now())));
    c.send('noop');
    expect(await c.readLine()).toBe('ok');
    expect(ended).toEqual([]);
  });

  it('implicit TLS: counted from accept, before the handshake; a handshake that never comes is dropped', async () => {
    // The second connection below must be refused while the silent one still holds the slot: 4 s,
    // not 300 ms, which a loaded CI machine can spend between the two (the slot is then free again).
    const limit = new ConnectionLimit(10, { maxPerAddress: 1, tlsHandshakeMs: 4000 });
    const { server } = await serve(limit, 'tls');
    const silent = connect({ host: '127.0.0.1', port: server.port, localAddress: '127.92.0.1' });
    raw.push(silent);
    await new Promise((r) => silent.once('connect', r));
    // Counted although no byte of TLS was sent: a second connection from the address is closed unanswered.
    await waitFor(() => limit.fromAddress('127.92.0.1') > 0, 'the silent connection to be counted').catch(() => undefined);
    expect(limit.fromAddress('127.92.0.1')).toBe(1);
    await expect(LineClient.connect(server.port, { tls: true, localAddress: '127.92.0.1' })).rejects.toThrow();
    // The silent one is dropped at the handshake deadline, and the address is served again.
    await new Promise<void>((resolve) => (silent.destroyed ? resolve() : silent.once('close', () => resolve())));
    const c = await client(server.port, '127.92.0.1', true);
    expect(await c.readLine()).toBe('hello');
  });
});
