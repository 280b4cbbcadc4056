import type { HeaderEdit } from '../filters/types';

/**
 * The message's header section as raw fields: each keeps its folded lines
 * exactly as received (RFC 5322 §2.2.3), so fields nobody edits go out
 * byte for byte as they came in.
 */
interface RawField {
  /** Lower-cased field name. */
  name: string;
  /** The whole field, continuation lines and final CRLF included. */
  raw: Buffer;
}

const CRLF = Buffer.from('\r\n');

/** Splits at the first empty line: header fields, then the separator and body (untouched). */
function split(message: Buffer): { fields: RawField[]; rest: Buffer } {
  const end = message.indexOf('\r\n\r\n');
  // No empty line: the whole message is a header section (RFC 5322 §3.5 allows no body).
  const headerEnd = end < 0 ? message.length : end + 2;
  const fields: RawField[] = [];
  let pos = 0;
  while (pos < headerEnd) {
    let next = message.indexOf(CRLF, pos);
    if (next < 0 || next + 2 > headerEnd) next = headerEnd - 2;
    let stop = next + 2;
    // Folded lines start with space or tab.
    while (stop < headerEnd && (message[stop] === 0x20 || message[stop] === 0x09)) {
      const more = message.indexOf(CRLF, stop);
      stop = more < 0 || more + 2 > headerEnd ? headerEnd : more + 2;
    }
    const raw = message.subarray(pos, Math.min(stop, headerEnd));
    const colon = raw.indexOf(0x3a);
    fields.push({ name: (colon > 0 ? raw.subarray(0, colon).toString('latin1') : '').trim().toLowerCase(), raw });
    pos = stop;
  }
  return { fields, rest: message.subarray(headerEnd) };
}

/** A field we write: value folded onto continuation lines already, or one line. Control characters other than tab are dropped. */
function field(name: string, value: string): Buffer {
  // Keep a filter's folding (CRLF before space or tab); drop every other control character, so no value can start a field of its own.
  const clean = value
    .split(/\r\n(?=[ \t])/)
    .map((part) => part.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ''))
    .join('\r\n');
  return Buffer.from(`${name}: ${clean}\r\n`, 'utf8');
}

/** Applies filter header edits (filters/types.ts HeaderEdit) in order. */
export function applyHeaderEdits(message: Buffer, edits: readonly HeaderEdit[]): Buffer {
  if (edits.length === 0) return message;
  const { fields, rest } = split(message);
  for (const edit of edits) {
    // RFC 5322 §2.2: a field name is printable ASCII without colon; anything else (a milter's garbage) is no edit.
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(edit.name)) continue;
    const name = edit.name.toLowerCase();
    if (edit.op === 'add') {
      const f = { name, raw: field(edit.name, edit.value) };
      const at = edit.index === undefined ? fields.length : Math.max(0, Math.min(edit.index, fields.length));
      fields.splice(at, 0, f);
      continue;
    }
    let seen = 0;
    const i = fields.findIndex((f) => f.name === name && ++seen === edit.occurrence);
    if (i < 0) continue; // RFC-wise a change of a missing field is a no-op (milter SMFIR_CHGHEADER does the same)
    if (edit.value === null) fields.splice(i, 1);
    else fields[i] = { name, raw: field(edit.name, edit.value) };
  }
  return Buffer.concat([...fields.map((f) => f.raw), rest]);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time, in UTC: `Tue, 1 Dec 2026 22:25:02 +0000`. */
export function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** What the client said about itself is untrusted: keep it to printable ASCII without spaces, bounded. */
function token(s: string | undefined, fallback: string): string {
  const t = (s ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, 255);
  return t || fallback;
}

export interface ReceivedInfo {
  /** The EHLO/HELO argument. */
  helo?: string;
  /** Reverse DNS of the client, when it resolved. */
  clientHostname?: string;
  remoteIp: string;
  /** Our host name (RuntimeConfig `hostname`). */
  by: string;
  /** RFC 3848 protocol: SMTP, ESMTP, ESMTPS… (smtp-server's session.transmissionType). */
  protocol: string;
  /** The queue id (RFC 5321 §4.4 `id` clause) so a message can be traced to our logs and queue. */
  id: string;
  /** `for` only with exactly one recipient: several would disclose Bcc recipients to each other. */
  recipients: readonly string[];
  date: Date;
}

/**
 * The trace field a gateway MUST prepend (RFC 5321 §4.4):
 * `Received: from helo (rdns [ip]) by host (mailfleet) with ESMTP id X for <rcpt>; date`.
 */
export function receivedHeader(r: ReceivedInfo): Buffer {
  const ip = r.remoteIp.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const literal = ip.includes(':') ? `[IPv6:${ip}]` : `[${ip}]`;
  const rdns = r.clientHostname && !r.clientHostname.startsWith('[') ? `${token(r.clientHostname, '')} ` : '';
  const lines = [
    `from ${token(r.helo, 'unknown')} (${rdns}${literal})`,
    `\tby ${token(r.by, 'localhost')} (mailfleet) with ${token(r.protocol, 'SMTP')} id ${r.id}`,
  ];
  const tail = `; ${rfc5322Date(r.date)}`;
  if (r.recipients.length === 1) lines.push(`\tfor <${token(r.recipients[0], '')}>${tail}`);
  else lines[lines.length - 1] += tail;
  return Buffer.from(`Received: ${lines.join('\r\n')}\r\n`, 'latin1');
}
