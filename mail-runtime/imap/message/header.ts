/**
 * RFC 5322 §2.2 header fields and RFC 2045 §5.1 / RFC 2231 parameters, read
 * byte-exactly. Header text is handled as "binary strings" (latin1: one char
 * per byte) so nothing is lost and the summary stays JSON-serialisable.
 */

export interface HeaderField {
  /** Field name as written (without trailing whitespace). Lines without a colon have the whole line as name and value null. */
  readonly name: string;
  /** Value after the colon and the whitespace following it, folds (CRLF + WSP) kept, final line end removed. */
  readonly value: string | null;
  /** Offsets of the whole field (all its lines, including the final line end) relative to the header block. */
  readonly start: number;
  readonly end: number;
}

/** Splits a header block (binary string, may end with the empty line) into fields. */
export function parseHeaderFields(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = 0;
  const n = block.length;
  let cur: { start: number; firstLineEnd: number } | null = null;
  const flush = (end: number): void => {
    if (!cur) return;
    let raw = block.slice(cur.start, end);
    if (raw.endsWith('\n')) raw = raw.slice(0, raw.endsWith('\r\n') ? -2 : -1);
    const colon = raw.indexOf(':');
    const firstLine = block.slice(cur.start, cur.firstLineEnd);
    if (colon < 0 || colon > firstLine.length) {
      fields.push({ name: raw, value: null, start: cur.start, end });
    } else {
      const value = raw.slice(colon + 1).replace(/^[ \t]+/, '');
      fields.push({ name: raw.slice(0, colon).replace(/[ \t]+$/, ''), value, start: cur.start, end });
    }
    cur = null;
  };
  while (pos < n) {
    const lf = block.indexOf('\n', pos);
    const lineEnd = lf < 0 ? n : lf + 1;
    const lineText = block.slice(pos, lf < 0 ? n : lf).replace(/\r$/, '');
    if (lineText === '') {
      flush(pos);
      break; // the empty line ends the header
    }
    const c = block.charCodeAt(pos);
    if ((c === 0x20 || c === 0x09) && cur) {
      // RFC 5322 §2.2.3 folding: a continuation line.
    } else {
      flush(pos);
      cur = { start: pos, firstLineEnd: lf < 0 ? n : lf };
    }
    pos = lineEnd;
  }
  flush(Math.min(pos, n));
  return fields;
}

/** First field with that name (case-insensitive). */
export function firstField(fields: readonly HeaderField[], name: string): HeaderField | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.value !== null && f.name.toLowerCase() === lower);
}

/** RFC 5322 §2.2.3 unfolding: CRLF followed by WSP is removed. */
export function unfold(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '');
}

// ---- RFC 2045 §5.1 structured values: token, tspecials, quoted-string, comments ----

/** `adjacent`: no whitespace or comment between this token and the previous one. */
type Tok = { kind: 'token' | 'quoted' | 'special'; text: string; adjacent: boolean };

/** RFC 2045 §5.1 tspecials plus WSP / CTL stop a token. */
const TSPECIALS = '()<>@,;:\\"/[]?=';

function tokenize(value: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const s = value;
  let prevEnd = -1;
  const push = (t: Omit<Tok, 'adjacent'>, start: number): void => {
    out.push({ ...t, adjacent: start === prevEnd });
    prevEnd = i;
  };
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(') {
      // RFC 5322 §3.2.2 comments nest and may contain quoted-pairs.
      let depth = 0;
      for (; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) {
          i++;
          break;
        }
      }
      continue;
    }
    if (c === '"') {
      const start = i;
      let text = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        if (s[i] !== '\r' && s[i] !== '\n') text += s[i];
        i++;
      }
      i++;
      push({ kind: 'quoted', text }, start);
      continue;
    }
    if (TSPECIALS.includes(c)) {
      i++;
      push({ kind: 'special', text: c }, i - 1);
      continue;
    }
    let j = i;
    while (j < s.length && !TSPECIALS.includes(s[j]) && !/[ \t\r\n]/.test(s[j])) j++;
    const start = i;
    i = j;
    push({ kind: 'token', text: s.slice(start, j) }, start);
  }
  return out;
}

export interface ContentType {
  /** As written; empty strings when the value is not `type/subtype`. */
  readonly type: string;
  readonly subtype: string;
  readonly params: Array<[string, string]>;
  readonly valid: boolean;
}

/**
 * `;`-separated parameters from token position `i` (RFC 2045 §5.1). Names keep the case
 * they were written in, as BODYSTRUCTURE reports them (Dovecot does the
 * same); they are case-insensitive (RFC 2045 §5.1), so look them up with
 * `paramValue`. RFC 2231 §3 continuations `name*0`, `name*1*` … are joined
 * into one parameter named `name` (or `name*` when the first piece is
 * extended), spelled as in its first piece; the value is not
 * percent-decoded, which keeps BODYSTRUCTURE an exact report of the header.
 */
function parseParams(toks: Tok[], i: number): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  const continued = new Map<string, { base: string; pieces: Map<number, string>; extended: boolean; index: number }>();
  // `*(";" parameter)`: the list ends at the first thing that is not one (`;;`, a name without a value,
  // text after a value), as Dovecot reads it; what came before stands.
  while (i < toks.length && toks[i].kind === 'special' && toks[i].text === ';') {
    const name = toks[i + 1];
    const eq = toks[i + 2];
    const val = toks[i + 3];
    if (!name || name.kind !== 'token' || !eq || eq.text !== '=' || eq.kind !== 'special' || !val || (val.kind === 'special' && (!val.adjacent || val.text === ';'))) break;
    i += 4;
    let text = val.text;
    if (val.kind !== 'quoted') {
      // Lenient: an unquoted value with tspecials (`boundary=----=_Part_1`) runs to the next space or ';'.
      while (i < toks.length && toks[i].adjacent && toks[i].text !== ';' && toks[i].kind !== 'quoted') text += toks[i++].text;
    }
    const key = name.text;
    const m = /^(.+?)\*([0-9]+)(\*?)$/.exec(key);
    if (m) {
      const base = m[1];
      let entry = continued.get(base.toLowerCase());
      if (!entry) {
        entry = { base, pieces: new Map(), extended: false, index: params.length };
        continued.set(base.toLowerCase(), entry);
        params.push([base, '']); // placeholder keeps the order
      }
      const idx = Number(m[2]);
      if (idx === 0) entry.extended = m[3] === '*';
      entry.pieces.set(idx, text);
      continue;
    }
    params.push([key, text]);
  }
  for (const entry of continued.values()) {
    let value = '';
    for (let k = 0; entry.pieces.has(k); k++) value += entry.pieces.get(k);
    params[entry.index] = [entry.extended ? `${entry.base}*` : entry.base, value];
  }
  return params;
}

/** A parameter's value by name, case-insensitively (RFC 2045 §5.1); undefined when absent. */
export function paramValue(params: ReadonlyArray<readonly [string, string]> | null | undefined, name: string): string | undefined {
  const lower = name.toLowerCase();
  return params?.find(([k]) => k.toLowerCase() === lower)?.[1];
}

const isSemicolon = (t: Tok | undefined): boolean => t === undefined || (t.kind === 'special' && t.text === ';');

/**
 * RFC 2045 §5.1 Content-Type. Read the way Dovecot reads a broken one, so
 * BODYSTRUCTURE matches what clients see from it: a type without a subtype
 * and nothing else (`text`) is that type with an empty subtype; anything
 * but `;` after `type/subtype` (`text/plain/x`, `text/plain junk`), or
 * parameters after a lone type, make the whole value invalid.
 */
export function parseContentType(value: string): ContentType {
  const toks = tokenize(value);
  const slash = toks[1]?.kind === 'special' && toks[1].text === '/';
  if (toks[0]?.kind === 'token' && slash && toks[2]?.kind === 'token' && isSemicolon(toks[3])) {
    return { type: toks[0].text, subtype: toks[2].text, params: parseParams(toks, 3), valid: true };
  }
  if (toks[0]?.kind === 'token' && toks.length === 1) return { type: toks[0].text, subtype: '', params: [], valid: true };
  return { type: '', subtype: '', params: [], valid: false };
}

/** RFC 2183 Content-Disposition: type and parameters. */
export function parseDisposition(value: string): { type: string; params: Array<[string, string]> } | null {
  const toks = tokenize(value);
  if (toks.length === 0 || toks[0].kind !== 'token') return null;
  return { type: toks[0].text, params: parseParams(toks, 1) };
}

/** RFC 2045 §6.1 Content-Transfer-Encoding: the first token as written. */
export function parseEncoding(value: string): string | null {
  const t = tokenize(value)[0];
  return t && t.kind === 'token' ? t.text : null;
}

/** RFC 3066 Content-Language: comma-separated tags. */
export function parseLanguage(value: string): string[] {
  return tokenize(value)
    .filter((t) => t.kind === 'token')
    .map((t) => t.text);
}
