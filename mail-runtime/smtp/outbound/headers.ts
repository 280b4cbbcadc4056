import addressparser from 'nodemailer/lib/addressparser';

/** The header block of a message (up to the first empty line), unfolded into name/value pairs (RFC 5322 §2.2.3). */
export function readHeaders(message: Buffer): { name: string; value: string }[] {
  const text = message.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  const block = m ? text.slice(0, m.index) : text;
  const out: { name: string; value: string }[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1]!.value += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0) out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
    }
  }
  return out;
}

/** The header block and the body, split at the first empty line. */
export function splitMessage(message: Buffer): { head: Buffer; body: Buffer } {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: message.subarray(0, crlf + 2), body: message.subarray(crlf + 4) };
  if (lf >= 0) return { head: message.subarray(0, lf + 1), body: message.subarray(lf + 2) };
  return { head: message, body: Buffer.alloc(0) };
}

/** The domain of the (first) RFC5322.From address, lower case. */
export function fromDomain(message: Buffer): string | undefined {
  const from = readHeaders(message).find((h) => h.name === 'from');
  if (!from) return undefined;
  const addr = addressparser(from.value, { flatten: true })[0]?.address ?? '';
  const at = addr.lastIndexOf('@');
  return at > 0 ? addr.slice(at + 1).toLowerCase() : undefined;
}

/** The domain of an envelope address, lower case ('' for none). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).toLowerCase() : '';
}
