import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConnectionLimit, encodeProxyV2, loadTls, parseProxyV2, PROXY_LIMITS, serveSessions, type AcceptedConnection, type SessionServer } from '../../mail-runtime/net';
import { startHaproxy, type Haproxy } from '../helpers/haproxy';
import { LineClient } from '../helpers/line-client';
import { waitFor } from '../helpers/wait';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(command: number, famProto: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = famProto;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function v4Body(src: string, dst: string, sport: number, dport: number, extra = 0): Buffer {
  const b = Buffer.alloc(12 + extra);
  src.split('.').forEach((o, i) => (b[i] = Number(o)));
  dst.split('.').forEach((o, i) => (b[4 + i] = Number(o)));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

/** An address as 16 octets (IPv4 mapped), to compare spellings of one address. */
function addrBytes(ip: string): Buffer {
  const full = new URL(`http://[${ip.includes(':') ? ip : `::ffff:${ip}`}]/`).hostname.slice(1, -1);
  const [head, tail] = full.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

describe('parseProxyV2 (proxy-protocol.txt §2.2)', () => {
  it('reads a TCP/IPv4 header, with TLVs after the addresses', () => {
    const buf = Buffer.concat([v2(1, 0x11, v4Body('203.0.113.9', '10.0.0.1', 40000, 25, 7)), Buffer.from('EHLO x\r\n')]);
    expect(parseProxyV2(buf)).toEqual({ header: { command: 'proxy', sourceIp: '203.0.113.9', sourcePort: 40000 }, length: 16 + 19 });
  });

  it('reads TCP/IPv6, and an IPv4-mapped IPv6 source as IPv4', () => {
    const body = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000042', 'hex').copy(body, 0);
    body.writeUInt16BE(1234, 32);
    expect(parseProxyV2(v2(1, 0x21, body))).toEqual({ header: { command: 'proxy', sourceIp: '2001:db8:0:0:0:0:0:42', sourcePort: 1234 }, length: 52 });
    Buffer.from('00000000000000000000ffffc6336401', 'hex').copy(body, 0);
    expect(parseProxyV2(v2(1, 0x21, body))).toMatchObject({ header: { sourceIp: '198.51.100.1' } });
  });

  it('LOCAL (a health check) and UNSPEC/UNIX keep the socket address', () => {
    expect(parseProxyV2(v2(0, 0x00, Buffer.alloc(0)))).toEqual({ header: { command: 'local' }, length: 16 });
    expect(parseProxyV2(v2(0, 0x11, v4Body('1.2.3.4', '5.6.7.8', 1, 2)))).toEqual({ header: { command: 'local' }, length: 28 });
    expect(parseProxyV2(v2(1, 0x31, Buffer.alloc(216)))).toEqual({ header: { command: 'local' }, length: 232 });
  });

  it('asks for more octets while the header is incomplete', () => {
    const full = v2(1, 0x11, v4Body('1.2.3.4', '5.6.7.8', 1, 2));
    for (const n of [1, 12, 15, 16, 27]) expect(parseProxyV2(full.subarray(0, n))).toBe('incomplete');
  });

  it('reads back what encodeProxyV2 writes (what the login proxy sends its nodes): IPv4, IPv6, and mixed families as IPv6', () => {
    expect(encodeProxyV2({ ip: '203.0.113.9', port: 40000 }, { ip: '10.0.0.1', port: 143 })).toEqual(v2(1, 0x11, v4Body('203.0.113.9', '10.0.0.1', 40000, 143)));
    expect(parseProxyV2(encodeProxyV2({ ip: '2001:db8::42', port: 1 }, { ip: '::1', port: 2 }))).toEqual({ header: { command: 'proxy', sourceIp: '2001:db8:0:0:0:0:0:42', sourcePort: 1 }, length: 52 });
    expect(parseProxyV2(encodeProxyV2({ ip: '198.51.100.1', port: 3 }, { ip: '::1', port: 4 }))).toMatchObject({ header: { sourceIp: '198.51.100.1', sourcePort: 3 }, length: 52 });
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const parsed = parseProxyV2(encodeProxyV2({ ip, port }, { ip: '127.0.0.1', port: 143 }));
        if (parsed === 'incomplete' || parsed.header.command !== 'proxy') return false;
        return parsed.header.sourcePort === port && Buffer.compare(addrBytes(parsed.header.sourceIp), addrBytes(ip)) === 0;
      }),
    );
  });

  it.each([
    ['a v1 text header', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), /no v2 signature/],
    ['SMTP instead of a header', Buffer.from('EHLO x\r\n'), /no v2 signature/],
    ['version 1 in the binary form', Buffer.concat([SIG, Buffer.from([0x11, 0x11, 0, 12])]), /version 1/],
    ['an unknown command', Buffer.concat([SIG, Buffer.from([0x22, 0x11, 0, 12])]), /unknown command 2/],
    ['an unknown family', v2(1, 0x41, Buffer.alloc(12)), /address family 4/],
    ['UDP', v2(1, 0x12, v4Body('1.2.3.4', '5.6.7.8', 1, 2)), /transport 2/],
    ['a short address block', v2(1, 0x21, Buffer.alloc(12)), /too short for IPv6/],
    ['an overlong header', Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]), new RegExp(`limit of ${16 + PROXY_LIMITS.maxBodyBytes}`)],
  ])('refuses %s', (_what, buf, message) => {
    expect(() => parseProxyV2(buf)).toThrow(message);
  });
});

/**
 * The listener behind a real HAProxy (`send-proxy-v2`): the stand-in
 * session greets with the address it was given and echoes lines, so the
 * test sees what a protocol session would.
 */
describe('listeners behind a trusted balancer', () => {
  const BALANCER = '127.0.0.77';
  const servers: SessionServer[] = [];
  const clients: LineClient[] = [];
  const proxies: Haproxy[] = [];
  const raw: Socket[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of raw.splice(0)) s.destroy();
    for (const p of proxies.splice(0)) await p.stop();
    for (const s of servers.splice(0)) await s.close();
  });

  async function serve(kind: 'plain' | 'tls', limit = new ConnectionLimit(50)) {
    const tls = kind === 'tls' ? await loadTls(undefined, 'proxy.test') : undefined;
    const server = await serveSessions(
      { kind, host: '127.0.0.1', port: 0, tls, limit, proxyFrom: [`${BALANCER}/32`], refusal: (reason) => Buffer.from(`NO ${reason}\r\n`) },
      (conn: AcceptedConnection) => ({
        start() {
          conn.socket.write(`hello ${conn.remoteIp} via ${conn.via ?? '-'}\r\n`);
          conn.socket.on('data', (d: Buffer) => conn.socket.write(`got ${JSON.stringify(d.toString('latin1'))}\r\n`));
          conn.socket.once('close', conn.onClose);
        },
        shutdown() {
          conn.socket.end();
        },
      }),
    );
    servers.push(server);
    return server;
  }

  async function client(port: number, from: string, tls = false): Promise<LineClient> {
    const c = await LineClient.connect(port, { tls, localAddress: from });
    clients.push(c);
    return c;
  }

  it('a client through HAProxy is seen with its own address; one talking directly keeps its socket address', async () => {
    const server = await serve('plain');
    const proxy = await startHaproxy({ backendPort: server.port, source: BALANCER });
    proxies.push(proxy);
    const a = await client(proxy.port, '127.91.0.5');
    expect(await a.readLine()).toBe(`hello 127.91.0.5 via ${BALANCER}`);
    a.send('NOOP');
    expect(await a.readLine()).toBe('got "NOOP\\r\\n"');
    // Not from a trusted balancer: a header it sends is just bytes to the session, never believed.
    const direct = await client(server.port, '127.91.0.6');
    expect(await direct.readLine()).toBe('hello 127.91.0.6 via -');
    direct.write(v2(1, 0x11, v4Body('203.0.113.9', '10.0.0.1', 40000, 25)));
    expect(await direct.readLine()).toMatch(/^got "\\r\\n\\r\\n/);
  });

  it('the header and the first client bytes in one packet: both are read, in order', async () => {
    const server = await serve('plain');
    const s = connect({ host: '127.0.0.1', port: server.port, localAddress: BALANCER });
    raw.push(s);
    s.setEncoding('latin1');
    let got = '';
    s.on('data', (d: string) => (got += d));
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.write(Buffer.concat([v2(1, 0x11, v4Body('198.51.100.7', '10.0.0.1', 5555, 25)), Buffer.from('EHLO a\r\n')]));
    // The whole answer, two lines in two writes: they may arrive in more than one chunk, and the
    // second well after the first on a loaded machine.
    await waitFor(() => got.split('\r\n').length > 2, 'two answer lines').catch(() => undefined);
    expect(got).toBe(`hello 198.51.100.7 via ${BALANCER}\r\ngot "EHLO a\\r\\n"\r\n`);
  });

  it('a trusted balancer connection without a valid header is closed, no session is created', async () => {
    const server = await serve('plain');
    for (const first of ['EHLO a\r\n', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n']) {
      const s = connect({ host: '127.0.0.1', port: server.port, localAddress: BALANCER });
      raw.push(s);
      let got = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (got += d));
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      s.write(first);
      await new Promise<void>((resolve) => s.once('close', () => resolve()));
      expect(got).toBe('');
    }
    expect(server.sessions()).toBe(0);
  });

  it('implicit TLS through HAProxy: the handshake follows the header, the client address is the real one', async () => {
    const server = await serve('tls');
    const proxy = await startHaproxy({ backendPort: server.port, source: BALANCER });
    proxies.push(proxy);
    const c = await client(proxy.port, '127.91.0.8', true);
    expect(await c.readLine()).toBe(`hello 127.91.0.8 via ${BALANCER}`);
  });

  it('per-address limits count the clients behind the balancer, not the balancer', async () => {
    const server = await serve('plain', new ConnectionLimit(50, { maxPerAddress: 1 }));
    const proxy = await startHaproxy({ backendPort: server.port, source: BALANCER });
    proxies.push(proxy);
    const first = await client(proxy.port, '127.91.0.9');
    expect(await first.readLine()).toBe(`hello 127.91.0.9 via ${BALANCER}`);
    const second = await client(proxy.port, '127.91.0.9');
    expect(await second.readLine()).toBe('NO address');
    const other = await client(proxy.port, '127.91.0.10');
    expect(await other.readLine()).toBe(`hello 127.91.0.10 via ${BALANCER}`);
  });
});
