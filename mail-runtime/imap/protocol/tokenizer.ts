/**
 * Turns one fully received command (its text lines and the literals between
 * them) into `ImapValue`s. Internal to the protocol folder: the reader calls it.
 *
 * Grammar: RFC 3501 §9 (atom, number, quoted, literal, NIL, list), RFC 7888
 * (`{n+}`), RFC 3516 (`~{n}` literal8), and the FETCH section syntax of
 * RFC 3501 §6.4.5 (`BODY.PEEK[HEADER.FIELDS (A B)]<0.100>`), which is the one
 * place where an atom contains spaces and parentheses.
 */
import type { AtomValue, ImapValue, StringValue } from './values';

export interface AssembledLiteral {
  readonly bytes: Buffer;
  readonly form: 'literal' | 'literal8';
}

/** segments.length === literals.length + 1; every segment but the last ends with its literal marker. */
export interface AssembledCommand {
  readonly segments: readonly Buffer[];
  readonly literals: readonly AssembledLiteral[];
}

export class TokenError extends Error {}

/** Atoms that may be followed by `[section]<partial>` (RFC 3501 §6.4.5, RFC 3516 §4.2). */
const SECTION_ATOMS = new Set(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE']);
/** Longest of SECTION_ATOMS: a longer prefix is never one (checking it would make `x[[[[...` quadratic). */
const SECTION_ATOM_MAX = 11;
const LITERAL_MARKER = /^~?\{(\d{1,20})(\+?)\}$/;
const MAX_DEPTH = 64;

const SP = 0x20;
const LPAREN = 0x28;
const RPAREN = 0x29;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const TILDE = 0x7e;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LT = 0x3c;

function isCtl(b: number): boolean {
  return b < 0x20 || b === 0x7f;
}

export class Tokenizer {
  private seg = 0;
  private pos: number;

  constructor(
    private readonly cmd: AssembledCommand,
    startPos = 0,
  ) {
    this.pos = startPos;
  }

  private get buf(): Buffer {
    return this.cmd.segments[this.seg];
  }

  /** Parses values until the end of the command. */
  parseAll(): ImapValue[] {
    const out = this.parseSequence(null, 0);
    return out;
  }

  private atEnd(): boolean {
    return this.pos >= this.buf.length && this.seg === this.cmd.segments.length - 1;
  }

  private skipSpaces(): void {
    // Lenient: RFC 3501 wants exactly one SP between tokens; extra spaces cost nothing.
    while (this.pos < this.buf.length && this.buf[this.pos] === SP) this.pos++;
  }

  /** Values up to `close` (`)` or `]`) or the end of the command when close is null. */
  private parseSequence(close: number | null, depth: number): ImapValue[] {
    if (depth > MAX_DEPTH) throw new TokenError('Lists nested too deeply');
    const items: ImapValue[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.pos >= this.buf.length) {
        if (this.seg < this.cmd.segments.length - 1) {
          // A segment ends only with a literal marker, which parseValue consumes.
          throw new TokenError('Unexpected literal marker');
        }
        if (close !== null) throw new TokenError(close === RPAREN ? 'Missing ")"' : 'Missing "]"');
        return items;
      }
      const b = this.buf[this.pos];
      if (close !== null && b === close) {
        this.pos++;
        return items;
      }
      if (b === RPAREN || (b === RBRACKET && close === RBRACKET)) throw new TokenError('Unexpected ")"');
      items.push(this.parseValue(close, depth));
      // A value must be followed by SP, a closing bracket or the end.
      if (this.pos < this.buf.length) {
        const n = this.buf[this.pos];
        if (n !== SP && n !== RPAREN && !(close === RBRACKET && n === RBRACKET)) {
          throw new TokenError('Missing space between arguments');
        }
      }
    }
  }

  private parseValue(close: number | null, depth: number): ImapValue {
    const buf = this.buf;
    const b = buf[this.pos];
    if (b === LPAREN) {
      this.pos++;
      return { type: 'list', items: this.parseSequence(RPAREN, depth + 1) };
    }
    if (b === DQUOTE) return this.parseQuoted();
    if (b === LBRACE || (b === TILDE && buf[this.pos + 1] === LBRACE)) return this.parseLiteral();
    return this.parseAtom(close, depth);
  }

  private parseQuoted(): StringValue {
    const buf = this.buf;
    let i = this.pos + 1;
    let start = i;
    const chunks: Buffer[] = [];
    for (;;) {
      if (i >= buf.length) throw new TokenError('Unterminated quoted string');
      const c = buf[i];
      if (c === DQUOTE) break;
      if (c === BACKSLASH) {
        const n = buf[i + 1];
        // RFC 3501 §9: only `\"` and `\\` are escapes in a quoted string.
        if (n !== DQUOTE && n !== BACKSLASH) throw new TokenError('Invalid escape in quoted string');
        chunks.push(buf.subarray(start, i));
        chunks.push(Buffer.from([n]));
        i += 2;
        start = i;
        continue;
      }
      if (c === 0x0d || c === 0x0a || c === 0) throw new TokenError('CR, LF or NUL in quoted string');
      i++;
    }
    chunks.push(buf.subarray(start, i));
    this.pos = i + 1;
    return { type: 'string', bytes: Buffer.from(Buffer.concat(chunks)), form: 'quoted' };
  }

  private parseLiteral(): StringValue {
    const rest = this.buf.subarray(this.pos).toString('latin1');
    const m = LITERAL_MARKER.exec(rest);
    if (!m || this.seg >= this.cmd.literals.length) throw new TokenError('Literal marker must end the line');
    const lit = this.cmd.literals[this.seg];
    this.seg++;
    this.pos = 0;
    return { type: 'string', bytes: lit.bytes, form: lit.form };
  }

  private parseAtom(close: number | null, depth: number): ImapValue {
    const buf = this.buf;
    const start = this.pos;
    let i = start;
    for (; i < buf.length; i++) {
      const c = buf[i];
      if (c === SP || c === LPAREN || c === RPAREN) break;
      if (close === RBRACKET && c === RBRACKET) break;
      if (c === LBRACKET && i - start <= SECTION_ATOM_MAX && SECTION_ATOMS.has(buf.toString('latin1', start, i).toUpperCase())) break;
      if (c === DQUOTE || c === LBRACE || isCtl(c)) throw new TokenError('Invalid character in atom');
    }
    if (i === start) throw new TokenError('Expected an argument');
    const text = buf.toString('utf8', start, i);
    this.pos = i;
    if (buf[i] === LBRACKET) return this.parseSection(text, depth);
    if (/^[0-9]+$/.test(text)) {
      const n = Number(text);
      if (Number.isSafeInteger(n)) return { type: 'number', value: n, raw: text };
      return { type: 'atom', value: text };
    }
    if (text.toUpperCase() === 'NIL') return { type: 'nil', raw: text };
    return { type: 'atom', value: text };
  }

  private parseSection(name: string, depth: number): AtomValue {
    this.pos++; // '['
    const section = this.parseSequence(RBRACKET, depth + 1);
    const buf = this.buf;
    let partial: AtomValue['partial'];
    if (buf[this.pos] === LT) {
      const end = buf.indexOf('>', this.pos);
      if (end < 0) throw new TokenError('Missing ">" in partial');
      const m = /^([0-9]{1,10})(?:\.([0-9]{1,10}))?$/.exec(buf.toString('latin1', this.pos + 1, end));
      if (!m) throw new TokenError('Invalid partial range');
      const offset = Number(m[1]);
      const length = m[2] === undefined ? undefined : Number(m[2]);
      // RFC 3501 §9: both are nz-number/number within 32 bits.
      if (offset > 0xffffffff || (length !== undefined && length > 0xffffffff)) throw new TokenError('Partial range too large');
      partial = length === undefined ? { offset } : { offset, length };
      this.pos = end + 1;
    }
    return partial ? { type: 'atom', value: name, section, partial } : { type: 'atom', value: name, section };
  }
}

/** Reads a literal marker at the end of a line: returns its size and kind, or null. */
export function literalMarkerAtEnd(line: Buffer): { size: number; nonSync: boolean; form: 'literal' | 'literal8'; markerStart: number } | null {
  if (line.length < 3 || line[line.length - 1] !== 0x7d) return null;
  const open = line.lastIndexOf(LBRACE);
  if (open < 0) return null;
  const m = /^\{(\d{1,20})(\+?)\}$/.exec(line.toString('latin1', open));
  if (!m) return null;
  // The marker starts a token: it follows SP, "(" , "[" or the line start (or "~" for literal8).
  let markerStart = open;
  let form: 'literal' | 'literal8' = 'literal';
  if (open > 0 && line[open - 1] === TILDE) {
    markerStart = open - 1;
    form = 'literal8';
  }
  const before = markerStart > 0 ? line[markerStart - 1] : SP;
  if (before !== SP && before !== LPAREN && before !== LBRACKET) return null;
  const size = Number(m[1]);
  return { size: Number.isSafeInteger(size) ? size : Number.MAX_SAFE_INTEGER, nonSync: m[2] === '+', form, markerStart };
}
