import { FILTER_LIMITS } from '../limits';

/**
 * The Sendmail milter protocol, version 6 (libmilter's mfdef.h and the
 * milter protocol notes that ship with Sendmail 8.14+): wire format only,
 * no conversation. Every packet is a 4-byte big-endian length (counting the
 * command byte), one command byte, and the command's data; strings are
 * NUL-terminated.
 */
export const MILTER_VERSION = 6;

/** MTA → milter commands (SMFIC_*). */
export const SMFIC = {
  ABORT: 'A',
  BODY: 'B',
  CONNECT: 'C',
  MACRO: 'D',
  BODYEOB: 'E',
  HELO: 'H',
  HEADER: 'L',
  MAIL: 'M',
  EOH: 'N',
  OPTNEG: 'O',
  QUIT: 'Q',
  RCPT: 'R',
  DATA: 'T',
} as const;

/** Milter → MTA replies and actions (SMFIR_*). */
export const SMFIR = {
  ADDRCPT: '+',
  DELRCPT: '-',
  ADDRCPT_PAR: '2',
  SHUTDOWN: '4',
  ACCEPT: 'a',
  REPLBODY: 'b',
  CONTINUE: 'c',
  DISCARD: 'd',
  CHGFROM: 'e',
  CONN_FAIL: 'f',
  ADDHEADER: 'h',
  INSHEADER: 'i',
  SETSYMLIST: 'l',
  CHGHEADER: 'm',
  PROGRESS: 'p',
  QUARANTINE: 'q',
  REJECT: 'r',
  SKIP: 's',
  TEMPFAIL: 't',
  REPLYCODE: 'y',
  OPTNEG: 'O',
} as const;

/** Actions a milter may take (SMFIF_*), offered by the MTA in SMFIC_OPTNEG. */
export const SMFIF = {
  ADDHDRS: 0x01,
  CHGBODY: 0x02,
  ADDRCPT: 0x04,
  DELRCPT: 0x08,
  CHGHDRS: 0x10,
  QUARANTINE: 0x20,
  CHGFROM: 0x40,
  ADDRCPT_PAR: 0x80,
  SETSYMLIST: 0x100,
} as const;

/** Protocol steps the milter may skip or not reply to (SMFIP_*). */
export const SMFIP = {
  NOCONNECT: 0x01,
  NOHELO: 0x02,
  NOMAIL: 0x04,
  NORCPT: 0x08,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
} as const;

/**
 * What we let a milter do: add, insert and change/delete header fields,
 * and quarantine (mapped to the Junk folder). Not offered, so a milter
 * cannot ask for them: ADDRCPT/DELRCPT/ADDRCPT_PAR and CHGFROM (the
 * envelope is decided by our routing and recipient checks, which a filter
 * must not bypass), CHGBODY/REPLBODY (the message is already on its way to
 * the durable queue as received; body rewriting would also break DKIM),
 * SETSYMLIST (we send a fixed set of macros).
 */
export const OFFERED_ACTIONS = SMFIF.ADDHDRS | SMFIF.CHGHDRS | SMFIF.QUARANTINE;

/**
 * Protocol options we support: every step may be skipped or left without a
 * reply, SMFIR_SKIP during the body, header values with their leading
 * space. Not offered: SMFIP_RCPT_REJ (we only pass accepted recipients) and
 * the larger data sizes (our chunks stay at MILTER_CHUNK_SIZE).
 */
export const OFFERED_PROTOCOL =
  SMFIP.NOCONNECT |
  SMFIP.NOHELO |
  SMFIP.NOMAIL |
  SMFIP.NORCPT |
  SMFIP.NOBODY |
  SMFIP.NOHDRS |
  SMFIP.NOEOH |
  SMFIP.NR_HDR |
  SMFIP.NOUNKNOWN |
  SMFIP.NODATA |
  SMFIP.SKIP |
  SMFIP.NR_CONN |
  SMFIP.NR_HELO |
  SMFIP.NR_MAIL |
  SMFIP.NR_RCPT |
  SMFIP.NR_DATA |
  SMFIP.NR_UNKN |
  SMFIP.NR_EOH |
  SMFIP.NR_BODY |
  SMFIP.HDR_LEADSPC;

export class MilterProtocolError extends Error {}

export interface Packet {
  cmd: string;
  data: Buffer;
}

export function encodePacket(cmd: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(cmd, 4, 'latin1');
  return Buffer.concat([head, data]);
}

/** NUL-terminated strings, as the protocol writes them. Our strings never hold a NUL (it would end them early). */
export function cstrings(...values: string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(`${v.replace(/\0/g, '')}\0`, 'latin1')));
}

export function encodeOptneg(version: number, actions: number, protocol: number): Buffer {
  const d = Buffer.alloc(12);
  d.writeUInt32BE(version, 0);
  d.writeUInt32BE(actions, 4);
  d.writeUInt32BE(protocol, 8);
  return encodePacket(SMFIC.OPTNEG, d);
}

/** SMFIC_MACRO: the command the macros belong to, then name/value pairs (multi-letter names in braces). */
export function encodeMacros(forCmd: string, macros: Record<string, string | undefined>): Buffer {
  const pairs = Object.entries(macros).flatMap(([name, value]) => (value === undefined ? [] : [name.length > 1 ? `{${name}}` : name, value]));
  return encodePacket(SMFIC.MACRO, Buffer.concat([Buffer.from(forCmd, 'latin1'), cstrings(...pairs)]));
}

/** SMFIC_CONNECT: host name, family ('4', '6', 'L' unix, 'U' unknown), port (16-bit), address. */
export function encodeConnect(hostname: string, family: '4' | '6' | 'U', port: number, address: string): Buffer {
  if (family === 'U') return encodePacket(SMFIC.CONNECT, Buffer.concat([cstrings(hostname), Buffer.from('U', 'latin1')]));
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port & 0xffff);
  return encodePacket(SMFIC.CONNECT, Buffer.concat([cstrings(hostname), Buffer.from(family, 'latin1'), p, cstrings(address)]));
}

export interface Optneg {
  version: number;
  actions: number;
  protocol: number;
}

export function decodeOptneg(p: Packet): Optneg {
  if (p.cmd !== SMFIR.OPTNEG || p.data.length < 12) throw new MilterProtocolError(`expected the option negotiation reply, got ${describe(p)}`);
  // A v6 milter may append the macros it wants per stage; we send a fixed set and ignore them.
  return { version: p.data.readUInt32BE(0), actions: p.data.readUInt32BE(4), protocol: p.data.readUInt32BE(8) };
}

/** Splits NUL-terminated strings; a missing final NUL is a protocol error. */
export function splitCstrings(data: Buffer, count: number, what: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const end = data.indexOf(0, at);
    if (end < 0) throw new MilterProtocolError(`${what}: a string is not NUL-terminated`);
    out.push(data.subarray(at, end).toString('latin1'));
    at = end + 1;
  }
  return out;
}

export function describe(p: Packet): string {
  const printable = /^[\x21-\x7e]$/.test(p.cmd) ? `'${p.cmd}'` : `0x${p.cmd.charCodeAt(0).toString(16)}`;
  return `packet ${printable} (${p.data.length} bytes)`;
}

/**
 * Reads packets from a byte stream: feed() the bytes as they arrive, then
 * take whole packets. A length of 0 or above the limit is a protocol error
 * (a peer that is not a milter, or a hostile one).
 */
export class PacketDecoder {
  private buf: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): Packet[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Packet[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len < 1 || len > FILTER_LIMITS.milterPacketBytes) {
        throw new MilterProtocolError(`packet length ${len} out of range (1–${FILTER_LIMITS.milterPacketBytes}): not a milter`);
      }
      if (this.buf.length < 4 + len) break;
      out.push({ cmd: String.fromCharCode(this.buf[4]!), data: Buffer.from(this.buf.subarray(5, 4 + len)) });
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}
