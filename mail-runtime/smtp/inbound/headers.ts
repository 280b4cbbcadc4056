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
