/**
 * Response compiler (RFC 3501 §7, §9 `response`): typed structure in, exact
 * bytes out.
 *
 * Strings (RFC 3501 §4.3) are sent quoted when that is possible and as a
 * literal otherwise: a quoted string cannot hold CR, LF or NUL, and we keep
 * 8-bit bytes out of quoted strings (RFC 3501 §9 `QUOTED-CHAR` is 7-bit
 * `TEXT-CHAR`). Like Dovecot, a string with more than four `"`/`\` goes as a
 * literal too (either form is correct; this keeps the output readable).
 *
 * Big literals are not copied: `compileResponse` returns the chunks, with a
 * Buffer literal as its own chunk, so a 50 MB BODY[] goes to the socket
 * without building one huge string.
 */

export type ResponseValue =
  /** Written as is: flags, item names like `BODY[HEADER]`, keywords, sequence sets. */
  | { readonly t: 'atom'; readonly v: string }
  | { readonly t: 'number'; readonly v: number | bigint }
  /** Quoted when possible, literal otherwise. */
  | { readonly t: 'string'; readonly v: string | Buffer }
  /** Always a literal (`{n}\r\n` + bytes). */
  | { readonly t: 'literal'; readonly v: string | Buffer }
  /** A literal8 (`~{n}\r\n` + bytes, RFC 3516 §4.2): binary content, NULs allowed. */
  | { readonly t: 'literal8'; readonly v: Buffer }
  | { readonly t: 'nil' }
  | { readonly t: 'list'; readonly v: readonly ResponseValue[] }
  /** Several values with no space between them (e.g. BODYSTRUCTURE's `(part)(part)`). */
  | { readonly t: 'concat'; readonly v: readonly ResponseValue[] }
  /**
   * Numbers separated by single spaces (RFC 3501 §7.2.5 `* SEARCH 2 3 5`),
   * written as ASCII digits straight into buffers: a SEARCH with 100,000
   * hits makes no string or object per number. Empty writes nothing.
   */
  | { readonly t: 'numbers'; readonly v: Uint32Array };

export interface ResponseCode {
  /** e.g. `UIDNEXT`, `PERMANENTFLAGS`, `TOOBIG`. */
  readonly name: string;
  /** Written after the name, separated by spaces. */
  readonly args?: readonly ResponseValue[];
}

export type ImapStatus = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

export type ImapResponse =
  /** `* <data...>` e.g. `* 3 EXISTS`, `* 1 FETCH (...)`, `* SEARCH 1 2`. */
  | { readonly kind: 'data'; readonly data: readonly ResponseValue[] }
  /** `<tag> OK [CODE args] text` or, with tag '*', an untagged status. */
  | { readonly kind: 'status'; readonly tag: string; readonly status: ImapStatus; readonly code?: ResponseCode; readonly text: string }
  /** `+ text` (RFC 3501 §7.5), e.g. `+ Ready for literal data`, `+ idling`, or a base64 SASL challenge. */
  | { readonly kind: 'continue'; readonly text: string };

// Constructors, so handlers write `list([atom('\\Seen')])` instead of object literals.
export const NIL: ResponseValue = { t: 'nil' };
export const atom = (v: string): ResponseValue => ({ t: 'atom', v });
export const num = (v: number | bigint): ResponseValue => ({ t: 'number', v });
export const str = (v: string | Buffer): ResponseValue => ({ t: 'string', v });
export const nstr = (v: string | Buffer | null | undefined): ResponseValue => (v === null || v === undefined ? NIL : { t: 'string', v });
export const lit = (v: string | Buffer): ResponseValue => ({ t: 'literal', v });
export const lit8 = (v: Buffer): ResponseValue => ({ t: 'literal8', v });
export const list = (v: readonly ResponseValue[]): ResponseValue => ({ t: 'list', v });
export const concat = (v: readonly ResponseValue[]): ResponseValue => ({ t: 'concat', v });
export const nums = (v: Uint32Array): ResponseValue => ({ t: 'numbers', v });

export const data = (...items: ResponseValue[]): ImapResponse => ({ kind: 'data', data: items });
export const tagged = (tag: string, status: ImapStatus, text: string, code?: ResponseCode): ImapResponse =>
  code ? { kind: 'status', tag, status, code, text } : { kind: 'status', tag, status, text };
export const untagged = (status: ImapStatus, text: string, code?: ResponseCode): ImapResponse => tagged('*', status, text, code);
export const continuation = (text: string): ImapResponse => ({ kind: 'continue', text });

/** Literals at least this big stay separate chunks instead of being copied. */
const INLINE_LITERAL_MAX = 16 * 1024;

/** How a string must be sent: 'quoted' (and the escaped body) or 'literal'. */
export function stringForm(bytes: Buffer): 'quoted' | 'literal' {
  let escapes = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x0d || c === 0x0a || c === 0 || c >= 0x80) return 'literal';
    if (c === 0x22 || c === 0x5c) {
      if (++escapes > 4) return 'literal';
    }
  }
  return 'quoted';
}

function quote(bytes: Buffer): string {
  return `"${bytes.toString('latin1').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

class Writer {
  readonly chunks: Buffer[] = [];
  private text = '';

  write(s: string): void {
    this.text += s;
  }

  literal(bytes: Buffer, binary = false): void {
    this.text += `${binary ? '~' : ''}{${bytes.length}}\r\n`;
    if (bytes.length < INLINE_LITERAL_MAX) {
      this.text += bytes.toString('latin1');
    } else {
      this.flush();
      this.chunks.push(bytes);
    }
  }

  flush(): void {
    if (this.text) this.chunks.push(Buffer.from(this.text, 'latin1'));
    this.text = '';
  }
}

function toBytes(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** Atoms and text are written as UTF-8; the writer works in latin1 so bytes pass through unchanged. */
function utf8ToLatin1(s: string): string {
  // Fast path for ASCII.
   
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

function writeValue(w: Writer, v: ResponseValue): void {
  switch (v.t) {
    case 'atom':
      w.write(utf8ToLatin1(v.v));
      return;
    case 'number':
      w.write(String(v.v));
      return;
    case 'nil':
      w.write('NIL');
      return;
    case 'string': {
      const bytes = toBytes(v.v);
      if (stringForm(bytes) === 'quoted') w.write(quote(bytes));
      else w.literal(bytes);
      return;
    }
    case 'literal':
      w.literal(toBytes(v.v));
      return;
    case 'literal8':
      w.literal(v.v, true);
      return;
    case 'list':
      w.write('(');
      writeValues(w, v.v, ' ');
      w.write(')');
      return;
    case 'concat':
      writeValues(w, v.v, '');
      return;
    case 'numbers':
      w.flush();
      for (const chunk of numberChunks(v.v)) w.chunks.push(chunk);
      return;
  }
}

/** Numbers per chunk of a `numbers` value: at most 11 bytes each (10 digits of a u32 and a space), so about 64 KiB. */
const NUMBERS_PER_CHUNK = 6000;

/**
 * `n1 n2 n3` as ASCII, in chunks of NUMBERS_PER_CHUNK numbers (no leading
 * or trailing space). The typed array's own join writes the digits in
 * native code. A digit loop in JavaScript runs interpreted until V8 has
 * optimized it, and a server meets a large reply seldom: the first replies
 * of 30,000 numbers (SEARCH UNSEEN on 100,000 messages) took 11-20 ms to
 * format and send with the loop, 1-6 ms with join, and about 1 ms either
 * way once warm (node-only loop, loaded 2-core machine).
 */
function numberChunks(v: Uint32Array): Buffer[] {
  const out: Buffer[] = [];
  for (let start = 0; start < v.length; start += NUMBERS_PER_CHUNK) {
    const end = Math.min(v.length, start + NUMBERS_PER_CHUNK);
    out.push(Buffer.from((start > 0 ? ' ' : '') + v.subarray(start, end).join(' '), 'latin1'));
  }
  return out;
}

function writeValues(w: Writer, values: readonly ResponseValue[], sep: string): void {
  values.forEach((item, i) => {
    if (i > 0) w.write(sep);
    writeValue(w, item);
  });
}

/**
 * resp-text (RFC 3501 §9 `text = 1*TEXT-CHAR`) is 7-bit and on one line: CR,
 * LF and NUL become a space, other controls and anything non-ASCII a `?`
 * (8-bit text needs UTF8=ACCEPT, RFC 6855, which we do not offer). Texts
 * may quote what a client sent (an unknown search key, a bad flag): this
 * keeps its raw bytes off the wire.
 */
function safeText(s: string): string {
  return s.replace(/[\r\n\0]+/g, ' ').replace(/[^\x20-\x7e]/gu, '?');
}

/** The bytes of one response, as chunks to write in order (big Buffer literals are not copied). */
export function compileResponse(r: ImapResponse): Buffer[] {
  const w = new Writer();
  writeResponse(w, r);
  w.flush();
  return w.chunks;
}

/**
 * The bytes of several responses, in order, as one list of chunks for a
 * single corked write (FETCH of many bodies): the text between two big
 * literals — one response's `)\r\n` and the next one's `* n FETCH (BODY[]
 * {size}\r\n` — is one chunk, and the literals stay the message files' own
 * buffers. The bytes are exactly those of compileResponse on each in turn.
 */
export function compileResponses(rs: readonly ImapResponse[]): Buffer[] {
  const w = new Writer();
  for (const r of rs) writeResponse(w, r);
  w.flush();
  return w.chunks;
}

function writeResponse(w: Writer, r: ImapResponse): void {
  switch (r.kind) {
    case 'data':
      w.write('* ');
      writeValues(w, r.data, ' ');
      break;
    case 'status':
      w.write(`${utf8ToLatin1(r.tag)} ${r.status} `);
      if (r.code) {
        w.write(`[${r.code.name}`);
        if (r.code.args && r.code.args.length > 0) {
          w.write(' ');
          writeValues(w, r.code.args, ' ');
        }
        w.write('] ');
      }
      w.write(safeText(r.text));
      break;
    case 'continue':
      w.write(`+ ${safeText(r.text)}`);
      break;
  }
  w.write('\r\n');
}

/** One Buffer with the whole response (fine for small responses). */
export function compileResponseBuffer(r: ImapResponse): Buffer {
  const chunks = compileResponse(r);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Bytes of a single value (without line end), e.g. for tests or for building larger items. */
export function compileValue(v: ResponseValue): Buffer {
  const w = new Writer();
  writeValue(w, v);
  w.flush();
  return Buffer.concat(w.chunks);
}
