import type { HeaderEdit } from './types';

/** One header field as it stands in the message (RFC 5322 §2.2). */
export interface HeaderField {
  name: string;
  /** Everything after the colon up to the field's end, folding (CRLF + WSP) kept, leading whitespace kept. */
  raw: string;
}

/**
 * The header fields of a message: the lines before the first empty line
 * (RFC 5322 §2.1), a line starting with a space or tab continuing the one
 * before (§2.2.3). A line without a colon is not a field (it is kept out,
 * as most parsers do). CRLF or bare LF both end a line here: the scanners
 * see what we received, and a listener has already refused bare LF.
 */
export function parseHeaderFields(message: Buffer): HeaderField[] {
  const end = headerEnd(message);
  const lines = message.subarray(0, end).toString('latin1').split(/\r?\n/);
  const fields: HeaderField[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1]!.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), raw: line.slice(colon + 1) });
  }
  return fields;
}

/** Offset of the empty line that ends the header (or the message length when there is none). */
export function headerEnd(message: Buffer): number {
  // A message that starts with the empty line has no header at all.
  if (message[0] === 0x0a || (message[0] === 0x0d && message[1] === 0x0a)) return 0;
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== 0x0a) continue;
    if (message[i + 1] === 0x0a) return i + 1;
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) return i + 1;
  }
  return message.length;
}

/** The field's value without its leading whitespace and with folding undone (RFC 5322 §2.2.3). */
export function unfold(raw: string): string {
  return raw.replace(/\r?\n(?=[ \t])/g, '').replace(/^[ \t]+/, '');
}

/**
 * Edits that delete every field called `name` (case-insensitive, RFC 5322
 * §1.2.2): a sender must not be able to plant a verdict header of ours
 * (`X-Spam-Status: No`, an `Authentication-Results` claiming our host)
 * that a mail client or a Sieve rule would trust. Highest occurrence first,
 * so each deletion leaves the numbering of the next one intact.
 */
export function deleteAll(fields: readonly HeaderField[], name: string, keep: (f: HeaderField) => boolean = () => false): HeaderEdit[] {
  const same = fields.filter((f) => f.name.toLowerCase() === name.toLowerCase());
  const edits: HeaderEdit[] = [];
  for (let i = same.length; i >= 1; i--) {
    if (!keep(same[i - 1]!)) edits.push({ op: 'change', name, occurrence: i, value: null });
  }
  return edits;
}

/**
 * Folds a list into a header value of lines under 78 characters (RFC 5322
 * §2.1.1 SHOULD; 998 is the MUST), breaking only after a separator.
 */
export function foldList(head: string, items: readonly string[], sep: string, firstLineUsed: number): string {
  let out = head;
  let line = firstLineUsed + head.length;
  items.forEach((item, i) => {
    const piece = `${item}${i < items.length - 1 ? sep : ''}`;
    if (line + piece.length > 76 && line > 0 && out.length > 0) {
      out += '\r\n\t';
      line = 8;
    }
    out += piece;
    line += piece.length;
  });
  return out;
}

/**
 * Applies the header edits of a chain result to a message, in order, the
 * way the filters mean them: `add` with `index` n inserts before the n-th
 * field (0: at the very top, RFC 8601 §4 / RFC 5321 §4.4 for trace and
 * result fields), without an index after the last one; `change` replaces
 * or (value null) removes the `occurrence`-th field of that name as the
 * message stands after the edits before it, and adds the field when there
 * is no such occurrence (libmilter's smfi_chgheader). Lines that are not
 * fields stay where they are; the body is not touched. Values are written
 * as UTF-8 after `Name: `.
 */
export function applyHeaderEdits(message: Buffer, edits: readonly HeaderEdit[]): Buffer {
  if (edits.length === 0) return message;
  const end = headerEnd(message);
  // Each entry is one field with its continuation lines, as octets (latin1 keeps them one to one).
  const entries: { name: string | null; text: string }[] = [];
  for (const line of message.subarray(0, end).toString('latin1').split(/(?<=\n)/)) {
    if (line === '') continue;
    const last = entries[entries.length - 1];
    if (/^[ \t]/.test(line) && last) last.text += line;
    else {
      const colon = line.indexOf(':');
      entries.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : null, text: line });
    }
  }
  // A header that ended without a line break (a message that is all header) gets one before new fields follow it.
  const tail = entries[entries.length - 1];
  if (tail && !tail.text.endsWith('\n')) tail.text += '\r\n';
  const field = (name: string, value: string) => ({ name: name.toLowerCase(), text: `${name}: ${Buffer.from(value, 'utf8').toString('latin1')}\r\n` });
  for (const e of edits) {
    if (e.op === 'add') {
      const at = e.index === undefined ? entries.length : Math.min(e.index, entries.length);
      entries.splice(at, 0, field(e.name, e.value));
      continue;
    }
    let seen = 0;
    const at = entries.findIndex((x) => x.name === e.name.toLowerCase() && ++seen === e.occurrence);
    if (at >= 0 && e.value === null) entries.splice(at, 1);
    else if (at >= 0) entries[at] = field(e.name, e.value!);
    else if (e.value !== null) entries.push(field(e.name, e.value));
  }
  return Buffer.concat([Buffer.from(entries.map((x) => x.text).join(''), 'latin1'), message.subarray(end)]);
}
