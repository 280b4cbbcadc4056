import { BlockList, isIP, type Socket } from 'node:net';
import { normalizeIp } from './address';

/**
 * The PROXY protocol, version 2 (HAProxy's proxy-protocol.txt §2.2): what a
 * load balancer in TCP mode sends first on every connection it opens to a
 * backend (`send-proxy-v2`), so the backend learns the client's address
 * instead of seeing every connection come from the balancer. Without it,
 * per-address bounds (connections, messages, failed logins) would count
 * every client as one, and a relay network covering the balancer would make
 * an open relay.
 *
 * The header is not authenticated: it is read only from peers in the
 * configured trusted networks (the balancers), and from those it is
 * required — a connection from a balancer without a valid header is closed,
 * never served as the balancer's own address. Peers outside those networks
 * are never asked for one (a header they send is protocol garbage to the
 * session, nothing more).
 *
 * Binary v2 only: it is what we render (`send-proxy-v2`), it has a fixed
 * length prefix (no line scanning) and carries IPv6 and the ports exactly.
 */

/** The 12-octet signature (proxy-protocol.txt §2.2): no protocol's first bytes look like it. */
const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Signature, version/command, family/transport, length. */
const FIXED_BYTES = 16;

export const PROXY_LIMITS = {
  /**
   * The address block and TLVs after the fixed 16 octets. The length field
   * allows 65535; HAProxy sends 12 (IPv4) or 36 (IPv6) octets plus the TLVs
   * it is told to add (`proxy-v2-options`: ALPN, authority, unique id, SSL
   * details — a few hundred octets). Anything longer is not our balancer.
   */
  maxBodyBytes: 2048,
  /** The balancer writes the header as soon as it has connected: a peer that has not sent it by then never will. */
  headerTimeoutMs: 10_000,
} as const;

/** What the header says about the connection. */
export type ProxyHeader =
  /** The balancer's own connection (a health check, `LOCAL`) or an address family we do not carry (UNIX, UNSPEC): the socket's address stands. */
  | { command: 'local' }
  /** A relayed client connection: the client's address and port. */
  | { command: 'proxy'; sourceIp: string; sourcePort: number };

export class ProxyHeaderError extends Error {
  constructor(message: string) {
    super(`PROXY protocol: ${message}`);
    this.name = 'ProxyHeaderError';
  }
}

/**
 * Parses a PROXY v2 header at the start of `buf`: the header and its length,
 * or `incomplete` when more octets are needed. Throws ProxyHeaderError for
 * anything that is not a well-formed v2 header within PROXY_LIMITS.
 */
export function parseProxyV2(buf: Buffer): { header: ProxyHeader; length: number } | 'incomplete' {
  const sig = Math.min(buf.length, SIGNATURE.length);
  if (!buf.subarray(0, sig).equals(SIGNATURE.subarray(0, sig))) throw new ProxyHeaderError('no v2 signature (is the balancer set to send-proxy-v2?)');
  if (buf.length < FIXED_BYTES) return 'incomplete';
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2) throw new ProxyHeaderError(`version ${version}, expected 2`);
  if (command > 1) throw new ProxyHeaderError(`unknown command ${command}`);
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  const bodyBytes = buf.readUInt16BE(14);
  if (bodyBytes > PROXY_LIMITS.maxBodyBytes) throw new ProxyHeaderError(`header of ${FIXED_BYTES + bodyBytes} octets is over the limit of ${FIXED_BYTES + PROXY_LIMITS.maxBodyBytes}`);
  if (buf.length < FIXED_BYTES + bodyBytes) return 'incomplete';
  const length = FIXED_BYTES + bodyBytes;
  // §2.2: with LOCAL the receiver must ignore the address block; UNSPEC and UNIX carry no address we can count.
  if (command === 0 || family === 0 || family === 3) return { header: { command: 'local' }, length };
  if (family !== 1 && family !== 2) throw new ProxyHeaderError(`unknown address family ${family}`);
  // §2.2: STREAM is TCP; a DGRAM header on a TCP listener is a misconfigured balancer.
  if (transport !== 1) throw new ProxyHeaderError(`transport ${transport} is not STREAM`);
  const body = buf.subarray(FIXED_BYTES, length);
  const addressBytes = family === 1 ? 4 : 16;
  if (body.length < 2 * addressBytes + 4) throw new ProxyHeaderError(`address block of ${body.length} octets is too short for ${family === 1 ? 'IPv4' : 'IPv6'}`);
  const src = body.subarray(0, addressBytes);
  const sourceIp = family === 1 ? [...src].join('.') : normalizeIp(ipv6Text(src));
  const sourcePort = body.readUInt16BE(2 * addressBytes);
  return { header: { command: 'proxy', sourceIp, sourcePort }, length };
}

/**
 * The PROXY v2 header (§2.2) a relay sends first on its connection to a
 * backend: command PROXY, STREAM over IPv4 when both addresses are IPv4,
 * else IPv6 (an IPv4 address as ::ffff:a.b.c.d), no TLVs. What the login
 * proxy tells a node about its client (config `proxy.sendProxyProtocol`).
 */
export function encodeProxyV2(source: { ip: string; port: number }, destination: { ip: string; port: number }): Buffer {
  const src = normalizeIp(source.ip);
  const dst = normalizeIp(destination.ip);
  const v4 = isIP(src) === 4 && isIP(dst) === 4;
  const addressBytes = v4 ? 4 : 16;
  const out = Buffer.alloc(FIXED_BYTES + 2 * addressBytes + 4);
  SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, command PROXY
  out[13] = v4 ? 0x11 : 0x21; // AF_INET / AF_INET6, STREAM
  out.writeUInt16BE(2 * addressBytes + 4, 14);
  const bytes = (ip: string): Buffer => (v4 ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip));
  bytes(src).copy(out, FIXED_BYTES);
  bytes(dst).copy(out, FIXED_BYTES + addressBytes);
  out.writeUInt16BE(source.port, FIXED_BYTES + 2 * addressBytes);
  out.writeUInt16BE(destination.port, FIXED_BYTES + 2 * addressBytes + 2);
  return out;
}

/** 16 octets of an IPv6 address (or of an IPv4 one, mapped); `ip` is a valid address. */
function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  if (isIP(ip) === 4) {
    out.writeUInt16BE(0xffff, 10);
    Buffer.from(ip.split('.').map(Number)).copy(out, 12);
    return out;
  }
  let text = ip.replace(/%.*$/, '');
  // A dotted IPv4 tail (::ffff:1.2.3.4) is two groups.
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Not compressed: isIP accepts it and normalizeIp maps ::ffff:a.b.c.d only in its dotted form, so convert that case.
  const text = groups.join(':');
  if (/^0:0:0:0:0:ffff:/.test(text)) return `::ffff:${[...b.subarray(12)].join('.')}`;
  return text;
}

/**
 * Reads the header off an accepted socket: resolves with it once complete
 * (whatever arrived after it is pushed back onto the socket, paused, for
 * the session or the TLS handshake to read), rejects (and destroys the
 * socket) on a malformed or overlong header, a timeout or a close.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number = PROXY_LIMITS.headerTimeoutMs): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, header?: ProxyHeader, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.removeListener('end', onClose);
      // Explicitly paused: data that arrives now waits for the session (or TLS) to read it.
      socket.pause();
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(header!);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      let parsed: ReturnType<typeof parseProxyV2>;
      try {
        parsed = parseProxyV2(buffered);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (parsed === 'incomplete') return;
      finish(undefined, parsed.header, buffered.subarray(parsed.length));
    };
    const onClose = (): void => finish(new ProxyHeaderError('connection closed before the header was complete'));
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no complete header within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('end', onClose);
  });
}

/** The networks (CIDR) whose connections must start with a PROXY v2 header. */
export class ProxyTrust {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [net, bits] = cidr.split('/') as [string, string | undefined];
      const family = isIP(net);
      if (!family || bits === undefined) throw new RangeError(`PROXY protocol networks: ${cidr} is not a network in CIDR notation`);
      this.list.addSubnet(net, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    }
    this.empty = cidrs.length === 0;
  }

  /** Does a connection from `ip` carry a PROXY header? */
  expects(ip: string): boolean {
    if (this.empty) return false;
    const a = normalizeIp(ip);
    const family = isIP(a);
    return family !== 0 && this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
