import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';

/**
 * An authoritative-looking DNS stub on loopback (UDP and TCP on one port)
 * for outbound tests: node:dns (setServers) and our DNSSEC client both ask
 * it. Names under a "secure" zone are answered with AD set when the query
 * asks for DNSSEC (AD or DO), as a validating resolver would; names can be
 * made to SERVFAIL.
 */
export type StubRecord =
  | { type: 'A'; data: string }
  | { type: 'AAAA'; data: string }
  | { type: 'MX'; data: { preference: number; exchange: string } }
  | { type: 'TXT'; data: string }
  | { type: 'TLSA'; data: { usage: number; selector: number; matchingType: number; certificate: Buffer } };

export interface StubQuery {
  name: string;
  type: string;
  dnssec: boolean;
}

export class DnsStub {
  readonly queries: StubQuery[] = [];
  private readonly records = new Map<string, StubRecord[]>();
  private readonly secureZones = new Set<string>();
  private readonly failing = new Set<string>();

  private constructor(
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    readonly port: number,
  ) {}

  /** `127.0.0.1:<port>`, as `outbound.resolvers` takes it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(): Promise<DnsStub> {
    for (let i = 0; i < 20; i++) {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      const port = udp.address().port;
      const tcp = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (!ok) {
        udp.close();
        continue;
      }
      const stub = new DnsStub(udp, tcp, port);
      stub.serve();
      return stub;
    }
    throw new Error('no free port for the DNS stub');
  }

  add(name: string, ...records: StubRecord[]): this {
    const key = name.toLowerCase();
    this.records.set(key, [...(this.records.get(key) ?? []), ...records]);
    return this;
  }

  /** Answers for `zone` and the names under it carry AD (DNSSEC-validated). */
  secure(zone: string): this {
    this.secureZones.add(zone.toLowerCase());
    return this;
  }

  /** Queries for `name` (any type) answer SERVFAIL. */
  servfail(name: string): this {
    this.failing.add(name.toLowerCase());
    return this;
  }

  close(): Promise<void> {
    this.udp.close();
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }

  private serve(): void {
    this.udp.on('message', (msg, rinfo) => {
      const res = this.answer(msg);
      if (res) this.udp.send(res, rinfo.port, rinfo.address);
    });
    this.tcp.on('connection', (sock: Socket) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => undefined);
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const res = this.answer(buf.subarray(2, 2 + len));
          buf = buf.subarray(2 + len);
          if (res) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(res.length);
            sock.write(Buffer.concat([prefix, res]));
          }
        }
      });
    });
  }

  private isSecure(name: string): boolean {
    for (const z of this.secureZones) if (name === z || name.endsWith(`.${z}`)) return true;
    return false;
  }

  private answer(msg: Buffer): Buffer | undefined {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase();
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { flags?: number } | undefined;
    const dnssec = q.flag_ad || ((opt?.flags ?? 0) & dnsPacket.DNSSEC_OK) !== 0;
    this.queries.push({ name, type: question.type, dnssec });
    const all = this.records.get(name);
    const matching = (all ?? []).filter((r) => r.type === question.type);
    let rcode = 0; // NOERROR
    if (this.failing.has(name)) rcode = 2; // SERVFAIL
    else if (!all) rcode = 3; // NXDOMAIN
    let flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (q.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode;
    if (rcode !== 2 && dnssec && this.isSecure(name)) flags |= dnsPacket.AUTHENTIC_DATA;
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags,
      questions: [question],
      answers: rcode === 0 ? (matching.map((r) => ({ name: question.name, type: r.type, class: 'IN', ttl: 60, data: r.data })) as dnsPacket.Answer[]) : [],
    });
  }
}
