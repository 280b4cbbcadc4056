import type { Readable } from 'node:stream';

/**
 * The message as received at DATA: its bytes (bounded) and the few header
 * operations the node needs — find fields, drop fields, add fields — on the
 * raw octets, so that nothing else of the message is ever re-encoded (a
 * DKIM signature over it must still verify).
 */

/**
 * Reads the DATA stream into one buffer, keeping at most `maxBytes`: past
 * that it keeps reading (the client is still sending; smtp-server answers
 * 552 once the terminating dot arrives) but stores nothing more, and
 * resolves `null`. Also `null` when the client goes away mid-message.
 */
export function readMessage(stream: Readable, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let settled = false;
    const done = (v: Buffer | null): void => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    stream.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => done(over ? null : Buffer.concat(chunks, size)));
    stream.once('error', () => done(null));
    stream.once('close', () => done(null));
  });
}

/** One header field: where it is in the message and its name. */
export interface HeaderField {
  /** As written (without trailing white space before the colon). */
  name: string;
  /** Byte range of the whole field, folded lines and line breaks included. */
  start: number;
  end: number;
  /** Where the value starts (after the colon). */
  valueStart: number;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** Offset just after the last field: the blank line (or the body, if there is none) starts here. */
  end: number;
}

const LF = 0x0a;
const CR = 0x0d;
/** RFC 5322 §2.2 field name (printable ASCII but colon), with obsolete white space before the colon (§4.5). */
const FIELD_NAME = /^([\x21-\x39\x3b-\x7e]+)[ \t]*$/;

/**
 * The header block of a message (RFC 5322 §2.2): fields up to the first
 * empty line. A line that is neither a field nor a continuation ends the
 * block there, as if the body started (a message without an empty line).
 * Lines may end in CRLF or, leniently, LF.
 */
export function parseHeader(raw: Buffer): HeaderBlock {
  const fields: HeaderField[] = [];
  let pos = 0;
  let current: HeaderField | undefined;
  while (pos < raw.length) {
    const nl = raw.indexOf(LF, pos);
    const lineEnd = nl < 0 ? raw.length : nl + 1;
    const first = raw[pos];
    if (first === LF || (first === CR && raw[pos + 1] === LF)) break;
    if ((first === 0x20 || first === 0x09) && current) {
      current.end = lineEnd;
      pos = lineEnd;
      continue;
    }
    const colon = raw.indexOf(0x3a, pos);
    if (colon < 0 || colon >= lineEnd) break;
    const m = FIELD_NAME.exec(raw.toString('latin1', pos, colon));
    if (!m) break;
    current = { name: m[1]!, start: pos, end: lineEnd, valueStart: colon + 1 };
    fields.push(current);
    pos = lineEnd;
  }
  return { fields, end: pos };
}

/** Fields named `name` (case-insensitive, RFC 5322 §1.2.2), in order. */
export function fieldsNamed(block: HeaderBlock, name: string): HeaderField[] {
  const lower = name.toLowerCase();
  return block.fields.filter((f) => f.name.toLowerCase() === lower);
}

/** A field's value, unfolded (RFC 5322 §2.2.3) and trimmed; UTF-8 (RFC 6532 allows it in headers). */
export function fieldValue(raw: Buffer, field: HeaderField): string {
  return raw
    .toString('utf8', field.valueStart, field.end)
    .replace(/\r?\n(?=[ \t])/g, '')
    .trim();
}

/** The message without the given fields (byte ranges dropped, everything else untouched). */
export function withoutFields(raw: Buffer, drop: readonly HeaderField[]): Buffer {
  if (!drop.length) return raw;
  const sorted = [...drop].sort((a, b) => a.start - b.start);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const f of sorted) {
    parts.push(raw.subarray(pos, f.start));
    pos = f.end;
  }
  parts.push(raw.subarray(pos));
  return Buffer.concat(parts);
}

/**
 * Adds fields (each `Name: value`, without line end) at `at`: 0 puts them
 * above everything (trace fields, RFC 5321 §4.4), the block's `end` after
 * the last field.
 */
export function withFields(raw: Buffer, at: number, lines: readonly string[]): Buffer {
  if (!lines.length) return raw;
  // A last field without its line break (a message that is only a header) gets one first.
  const needsBreak = at > 0 && raw[at - 1] !== LF;
  const text = Buffer.from(`${needsBreak ? '\r\n' : ''}${lines.join('\r\n')}\r\n`, 'utf8');
  return Buffer.concat([raw.subarray(0, at), text, raw.subarray(at)]);
}
