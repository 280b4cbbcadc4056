import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { isIP, connect as netConnect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { OUTBOUND_LIMITS } from './limits';

/**
 * A DNS client that reports whether the resolver validated its answer: the
 * AD bit (RFC 4035 §3.2.3, RFC 6840 §5.7), which node:dns (c-ares) does not
 * expose. DANE (RFC 7672) may only use TLSA records the resolver vouches for,
 * so the resolver must be one we trust to validate, ideally on this host
 * (RFC 7672 §2.1: the path to it must be secure too).
 */

export interface DnsServer {
  host: string;
  port: number;
}

export interface DnssecAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, … */
  rcode: string;
  /** The resolver set AD: the answer (or the denial) is DNSSEC-validated. */
  secure: boolean;
  answers: dnsPacket.Answer[];
}

export class DnsQueryError extends Error {}

/** `1.2.3.4`, `1.2.3.4:53`, `::1`, `[::1]:53` → host and port. */
export function parseDnsServer(s: string): DnsServer {
  if (isIP(s)) return { host: s, port: 53 };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (!m) throw new DnsQueryError(`not a DNS server address: ${s}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

export class DnssecResolver {
  private readonly servers: DnsServer[];

  /** The configured resolvers (`outbound.resolvers`), or the system's. */
  constructor(servers: readonly string[]) {
    this.servers = (servers.length ? servers : getServers()).map(parseDnsServer);
    if (!this.servers.length) throw new DnsQueryError('no DNS server configured for DNSSEC lookups');
  }

  /** Asks each server in turn (each `dnsQueryTries` times) until one answers; UDP first, TCP when truncated. */
  async query(name: string, type: dnsPacket.RecordType): Promise<DnssecAnswer> {
    let last: Error = new DnsQueryError('no answer');
    for (const server of this.servers) {
      for (let i = 0; i < OUTBOUND_LIMITS.dnsQueryTries; i++) {
        try {
          let res = await queryUdp(server, name, type);
          if (res.flag_tc) res = await queryTcp(server, name, type);
          return {
            rcode: (res as { rcode?: string }).rcode ?? 'NOERROR',
            secure: res.flag_ad,
            answers: (res.answers ?? []).filter((a) => a.type === type && a.name.toLowerCase() === name.toLowerCase()),
          };
        } catch (err) {
          last = err as Error;
        }
      }
    }
    throw last;
  }
}

function queryPacket(name: string, type: dnsPacket.RecordType): { id: number; buf: Buffer } {
  const id = randomInt(0, 65536);
  const buf = dnsPacket.encode({
    type: 'query',
    id,
    // AD in the query asks for AD in the answer (RFC 6840 §5.7); DO does too, for older resolvers (RFC 3225).
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: OUTBOUND_LIMITS.dnsUdpPayloadBytes, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }],
  });
  return { id, buf };
}

/** The answer belongs to our question (RFC 5452 §9.1: id and question must match, or it is spoofed or stale). */
function matches(res: dnsPacket.DecodedPacket, id: number, name: string, type: string): boolean {
  const q = res.questions?.[0];
  return res.id === id && res.flag_qr && q !== undefined && q.name.toLowerCase() === name.toLowerCase() && q.type === type;
}

function queryUdp(server: DnsServer, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const { id, buf } = queryPacket(name, type);
    const sock = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const timer = setTimeout(() => done(new DnsQueryError(`no answer from ${server.host}:${server.port} within ${OUTBOUND_LIMITS.dnsQueryTimeoutMs} ms`)), OUTBOUND_LIMITS.dnsQueryTimeoutMs);
    let finished = false;
    const done = (err?: Error, res?: dnsPacket.DecodedPacket) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (err) => done(err));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port !== server.port) return;
      let res: dnsPacket.DecodedPacket;
      try {
        res = dnsPacket.decode(msg);
      } catch {
        return; // garbage: keep waiting for the real answer
      }
      if (matches(res, id, name, type)) done(undefined, res);
    });
    sock.send(buf, server.port, server.host);
  });
}

function queryTcp(server: DnsServer, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const { id, buf } = queryPacket(name, type);
    const sock = netConnect({ host: server.host, port: server.port });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => done(new DnsQueryError(`no TCP answer from ${server.host}:${server.port} within ${OUTBOUND_LIMITS.dnsQueryTimeoutMs} ms`)), OUTBOUND_LIMITS.dnsQueryTimeoutMs);
    let finished = false;
    const done = (err?: Error, res?: dnsPacket.DecodedPacket) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (err) => done(err));
    sock.on('close', () => done(new DnsQueryError(`${server.host}:${server.port} closed the TCP connection without an answer`)));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(buf.length);
      sock.write(Buffer.concat([len, buf]));
    });
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 2 || got.length < 2 + got.readUInt16BE(0)) return;
      let res: dnsPacket.DecodedPacket;
      try {
        res = dnsPacket.decode(got.subarray(2, 2 + got.readUInt16BE(0)));
      } catch (err) {
        done(new DnsQueryError(`undecodable DNS answer: ${(err as Error).message}`));
        return;
      }
      if (matches(res, id, name, type)) done(undefined, res);
      else done(new DnsQueryError('DNS answer does not match the question'));
    });
  });
}
