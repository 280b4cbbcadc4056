import { isIPv4, isIPv6, type Socket } from 'node:net';
import { openSocket, writeAll, type Endpoint } from '../endpoint';
import { headerEnd, parseHeaderFields } from '../headers';
import { FILTER_LIMITS } from '../limits';
import { parseReplyLine, reject, tempfail } from '../reply';
import type { Envelope, HeaderEdit, SessionInfo, Verdict } from '../types';
import {
  MILTER_VERSION,
  MilterProtocolError,
  OFFERED_ACTIONS,
  OFFERED_PROTOCOL,
  PacketDecoder,
  SMFIC,
  SMFIF,
  SMFIP,
  SMFIR,
  cstrings,
  decodeOptneg,
  describe,
  encodeConnect,
  encodeMacros,
  encodeOptneg,
  encodePacket,
  splitCstrings,
  type Packet,
} from './protocol';

/**
 * One milter conversation for one message, at the end of DATA: the whole
 * transaction is replayed in the protocol's order (connect, HELO, MAIL,
 * each RCPT, DATA, the header fields, end of header, the body, end of
 * body) on a fresh connection, and the milter's replies and actions are
 * gathered. Replaying at DATA keeps the gateway's earlier phases free of a
 * milter connection per SMTP session; the price is that a milter's refusal
 * of one recipient (at its RCPT step) refuses the message, because at DATA
 * there is only one reply for all recipients.
 */
export interface MilterTransaction {
  /** Our host name: macro `j`. */
  hostname: string;
  session: SessionInfo;
  envelope: Envelope;
  message: Buffer;
}

export interface MilterOutcome {
  verdict: Verdict;
  headers: HeaderEdit[];
  /** SMFIR_QUARANTINE's reason: the message goes to Junk. */
  quarantine?: string;
  /** The step at which the milter decided (for the log line). */
  step: Step;
}

type Step = 'optneg' | 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body' | 'eob';

/** Which SMFIP_NR_* flag lets the milter stay silent after each step. */
const NO_REPLY: Partial<Record<Step, number>> = {
  connect: SMFIP.NR_CONN,
  helo: SMFIP.NR_HELO,
  mail: SMFIP.NR_MAIL,
  rcpt: SMFIP.NR_RCPT,
  data: SMFIP.NR_DATA,
  header: SMFIP.NR_HDR,
  eoh: SMFIP.NR_EOH,
  body: SMFIP.NR_BODY,
};

/** Packets off a socket, one at a time; a close, an error or garbage ends every wait with an error. */
class PacketStream {
  private readonly decoder = new PacketDecoder();
  private readonly queue: Packet[] = [];
  private waiter: { resolve: (p: Packet) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      try {
        this.queue.push(...this.decoder.feed(d));
      } catch (err) {
        this.fail(err as Error);
        socket.destroy();
        return;
      }
      this.wake();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new MilterProtocolError('the milter closed the connection')));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    const p = this.queue.shift();
    if (p) {
      this.waiter = undefined;
      w.resolve(p);
    } else if (this.failure) {
      this.waiter = undefined;
      w.reject(this.failure);
    }
  }

  next(): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.wake();
    });
  }
}

type StepAnswer = { kind: 'continue' } | { kind: 'accept' } | { kind: 'skip' } | { kind: 'decided'; verdict: Verdict };

export async function converse(endpoint: Endpoint, label: string, tx: MilterTransaction, signal: AbortSignal): Promise<MilterOutcome> {
  const socket = await openSocket(endpoint, signal);
  const packets = new PacketStream(socket);
  const headers: HeaderEdit[] = [];
  let quarantine: string | undefined;
  let step: Step = 'optneg';
  const send = (...bufs: Buffer[]) => writeAll(socket, Buffer.concat(bufs));

  try {
    await send(encodeOptneg(MILTER_VERSION, OFFERED_ACTIONS, OFFERED_PROTOCOL));
    const neg = decodeOptneg(await packets.next());
    if (neg.version < 2) throw new MilterProtocolError(`milter protocol version ${neg.version} is not supported (2–6)`);
    // A milter may only narrow what we offered; actions it claims beyond that are refused when it uses them.
    const protocol = neg.protocol & OFFERED_PROTOCOL;
    const actions = neg.actions & OFFERED_ACTIONS;
    const has = (flag: number) => (protocol & flag) !== 0;

    const answer = async (at: Step): Promise<StepAnswer> => {
      step = at;
      const nr = NO_REPLY[at];
      if (nr !== undefined && has(nr)) return { kind: 'continue' };
      for (;;) {
        const p = await packets.next();
        switch (p.cmd) {
          case SMFIR.PROGRESS:
            continue; // the milter is alive and still working; our deadline still holds
          case SMFIR.CONTINUE:
            return { kind: 'continue' };
          case SMFIR.ACCEPT:
            return { kind: 'accept' };
          case SMFIR.REJECT:
            return { kind: 'decided', verdict: reject(550, '5.7.1', `message refused by ${label}`) };
          case SMFIR.TEMPFAIL:
            return { kind: 'decided', verdict: tempfail(451, '4.7.1', `message deferred by ${label}; try again later`) };
          case SMFIR.DISCARD:
            return { kind: 'decided', verdict: { kind: 'discard', reason: `${label} discarded the message at ${at}` } };
          case SMFIR.SHUTDOWN:
          case SMFIR.CONN_FAIL:
            return { kind: 'decided', verdict: tempfail(451, '4.7.1', `${label} is not available; try again later`) };
          case SMFIR.REPLYCODE: {
            const [line] = splitCstrings(p.data, 1, 'SMFIR_REPLYCODE');
            const reply = parseReplyLine(line!);
            if (!reply) throw new MilterProtocolError(`SMFIR_REPLYCODE is not a 4xx/5xx reply: ${JSON.stringify(line!.slice(0, 40))}`);
            return { kind: 'decided', verdict: reply.code >= 500 ? { kind: 'reject', reply } : { kind: 'tempfail', reply } };
          }
          case SMFIR.SKIP:
            if (at === 'body' && has(SMFIP.SKIP)) return { kind: 'skip' };
            throw new MilterProtocolError(`SMFIR_SKIP at ${at}`);
          case SMFIR.ADDHEADER:
          case SMFIR.INSHEADER:
          case SMFIR.CHGHEADER:
          case SMFIR.QUARANTINE:
            // Modifications come only at end of body (libmilter: smfi_addheader & co are valid in xxfi_eom only).
            if (at !== 'eob') throw new MilterProtocolError(`modification ${describe(p)} before end of body (at ${at})`);
            if (p.cmd === SMFIR.QUARANTINE) {
              if (!(actions & SMFIF.QUARANTINE)) throw new MilterProtocolError('SMFIR_QUARANTINE without SMFIF_QUARANTINE');
              quarantine = splitCstrings(p.data, 1, 'SMFIR_QUARANTINE')[0]!.slice(0, 200);
            } else {
              if (headers.length >= FILTER_LIMITS.milterHeaderEdits) throw new MilterProtocolError(`more than ${FILTER_LIMITS.milterHeaderEdits} header changes`);
              headers.push(headerEdit(p, actions, has(SMFIP.HDR_LEADSPC)));
            }
            continue;
          default:
            throw new MilterProtocolError(`unexpected ${describe(p)} at ${at}`);
        }
      }
    };

    const done = (verdict: Verdict): MilterOutcome => ({ verdict, headers: verdict.kind === 'continue' ? headers : [], step, ...(quarantine !== undefined ? { quarantine } : {}) });
    /** Runs one step; a decision or an accept ends the conversation. */
    const run = async (at: Step, ...bufs: Buffer[]): Promise<MilterOutcome | 'skip' | undefined> => {
      await send(...bufs);
      const a = await answer(at);
      if (a.kind === 'decided') return done(a.verdict);
      if (a.kind === 'accept') return done({ kind: 'continue' });
      return a.kind === 'skip' ? 'skip' : undefined;
    };

    const { session: s, envelope } = tx;
    const ip = s.remoteIp.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const family = isIPv4(ip) ? '4' : isIPv6(ip) ? '6' : 'U';
    const clientName = s.clientHostname ?? `[${ip}]`;
    let out: MilterOutcome | 'skip' | undefined;

    if (!has(SMFIP.NOCONNECT)) {
      out = await run(
        'connect',
        encodeMacros(SMFIC.CONNECT, {
          j: tx.hostname,
          daemon_name: 'mailfleet',
          v: 'mailfleet',
          client_addr: ip,
          client_port: s.remotePort !== undefined ? String(s.remotePort) : undefined,
          client_name: s.clientHostname ?? 'unknown',
          _: `${s.clientHostname ?? 'unknown'} [${ip}]`,
        }),
        encodeConnect(clientName, family, s.remotePort ?? 0, ip),
      );
      if (out && out !== 'skip') return out;
    }
    if (!has(SMFIP.NOHELO) && s.helo) {
      out = await run('helo', encodeMacros(SMFIC.HELO, {}), encodePacket(SMFIC.HELO, cstrings(s.helo)));
      if (out && out !== 'skip') return out;
    }
    if (!has(SMFIP.NOMAIL)) {
      const args = [`<${envelope.mailFrom}>`, ...(envelope.declaredSize !== undefined ? [`SIZE=${envelope.declaredSize}`] : [])];
      out = await run(
        'mail',
        encodeMacros(SMFIC.MAIL, { i: s.id, mail_addr: envelope.mailFrom, mail_mailer: 'esmtp', auth_authen: s.authUser }),
        encodePacket(SMFIC.MAIL, cstrings(...args)),
      );
      if (out && out !== 'skip') return out;
    }
    if (!has(SMFIP.NORCPT)) {
      for (const rcpt of envelope.rcptTo) {
        out = await run('rcpt', encodeMacros(SMFIC.RCPT, { rcpt_addr: rcpt, rcpt_mailer: 'esmtp' }), encodePacket(SMFIC.RCPT, cstrings(`<${rcpt}>`)));
        if (out && out !== 'skip') return out;
      }
    }
    // SMFIC_DATA exists from protocol version 4 on.
    if (neg.version >= 4 && !has(SMFIP.NODATA)) {
      out = await run('data', encodeMacros(SMFIC.DATA, { i: s.id }), encodePacket(SMFIC.DATA));
      if (out && out !== 'skip') return out;
    }
    if (!has(SMFIP.NOHDRS)) {
      for (const f of parseHeaderFields(tx.message)) {
        // Without SMFIP_HDR_LEADSPC the value loses the one space after the colon, as Sendmail and Postfix send it;
        // folded lines are separated by LF, as in those MTAs' queue files.
        const value = (has(SMFIP.HDR_LEADSPC) ? f.raw : f.raw.replace(/^ /, '')).replace(/\r\n/g, '\n');
        out = await run('header', encodePacket(SMFIC.HEADER, cstrings(f.name, value)));
        if (out && out !== 'skip') return out;
      }
    }
    if (!has(SMFIP.NOEOH)) {
      out = await run('eoh', encodePacket(SMFIC.EOH));
      if (out && out !== 'skip') return out;
    }
    if (!has(SMFIP.NOBODY)) {
      const body = bodyOf(tx.message);
      for (let at = 0; at < body.length; at += FILTER_LIMITS.milterChunkBytes) {
        out = await run('body', encodePacket(SMFIC.BODY, body.subarray(at, at + FILTER_LIMITS.milterChunkBytes)));
        if (out === 'skip') break;
        if (out) return out;
      }
    }
    out = await run('eob', encodeMacros(SMFIC.BODYEOB, { i: s.id }), encodePacket(SMFIC.BODYEOB));
    if (out && out !== 'skip') return out;
    // SMFIR_CONTINUE at end of body accepts the message, as SMFIR_ACCEPT does (libmilter's xxfi_eom).
    return done({ kind: 'continue' });
  } finally {
    // SMFIC_QUIT closes the milter's side cleanly; nothing more is read.
    if (!socket.destroyed) {
      socket.end(encodePacket(SMFIC.QUIT));
      socket.once('finish', () => socket.destroy());
      // A milter that stopped reading cannot keep the socket: it goes a moment later regardless.
      setTimeout(() => socket.destroy(), 1000).unref();
    }
  }
}

/** The body: everything after the empty line that ends the header. */
function bodyOf(message: Buffer): Buffer {
  const end = headerEnd(message);
  if (end >= message.length) return Buffer.alloc(0);
  const skip = message[end] === 0x0d && message[end + 1] === 0x0a ? 2 : message[end] === 0x0a ? 1 : 0;
  return message.subarray(end + skip);
}

const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]{1,200}$/;

/** SMFIR_ADDHEADER / INSHEADER / CHGHEADER → a HeaderEdit, checked. */
function headerEdit(p: Packet, actions: number, leadspc: boolean): HeaderEdit {
  const indexed = p.cmd !== SMFIR.ADDHEADER;
  if (indexed && p.data.length < 4) throw new MilterProtocolError(`${describe(p)}: no index`);
  const index = indexed ? p.data.readUInt32BE(0) : 0;
  const [name, raw] = splitCstrings(indexed ? p.data.subarray(4) : p.data, 2, describe(p));
  if (!HEADER_NAME.test(name!)) throw new MilterProtocolError(`header name ${JSON.stringify(name!.slice(0, 40))} is not a field name (RFC 5322 §2.2)`);
  // Our values carry no leading space (the gateway writes "Name: value"); line breaks become CRLF folding
  // (RFC 5322 §2.2.3); the octets are read as UTF-8 (RFC 6532), as the value's text.
  const value = Buffer.from(leadspc ? raw!.replace(/^[ \t]+/, '') : raw!, 'latin1')
    .toString('utf8')
    .replace(/\r(?!\n)/g, '')
    .replace(/\r?\n/g, '\r\n')
    .replace(/\r\n(?![ \t])/g, '\r\n\t')
    .replace(/[\0-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
  if (p.cmd === SMFIR.CHGHEADER) {
    if (!(actions & SMFIF.CHGHDRS)) throw new MilterProtocolError('SMFIR_CHGHEADER without SMFIF_CHGHDRS');
    // The index counts fields of that name from 1 (smfi_chgheader); 0 is treated as the first, as Sendmail does. An empty value deletes.
    return { op: 'change', name: name!, occurrence: Math.max(1, index), value: value === '' ? null : value };
  }
  if (!(actions & SMFIF.ADDHDRS)) throw new MilterProtocolError(`${describe(p)} without SMFIF_ADDHDRS`);
  return p.cmd === SMFIR.INSHEADER ? { op: 'add', name: name!, value, index } : { op: 'add', name: name!, value };
}
