/**
 * FETCH arguments (RFC 3501 §6.4.5, §9 `fetch-att`; RFC 3516 BINARY;
 * RFC 7162 §3.1.4 CHANGEDSINCE and MODSEQ; RFC 7162 §3.2.6 VANISHED) and the
 * names of FETCH response items (RFC 3501 §7.4.2).
 */
import { fail, ok, type ParseResult } from './result';
import { asAstring, asAtom, asBigNumber, type AtomValue, type ImapValue } from './values';

/** `[part.part...TEXT]` (RFC 3501 §6.4.5 section-spec). */
export interface Section {
  /** Part numbers, empty for the whole message. */
  readonly part: readonly number[];
  readonly text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Field names for HEADER.FIELDS[.NOT], as sent. */
  readonly fields?: readonly string[];
}

export interface Partial {
  readonly offset: number;
  readonly length?: number;
}

export type SimpleFetchName =
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODYSTRUCTURE'
  | 'BODY'
  | 'UID'
  | 'MODSEQ'
  /** RFC 8474 §5.1, §5.2. */
  | 'EMAILID'
  | 'THREADID'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT';

export type FetchAttribute =
  | { readonly kind: 'simple'; readonly name: SimpleFetchName }
  | { readonly kind: 'section'; readonly peek: boolean; readonly section: Section; readonly partial?: Partial }
  /** BINARY[part]<partial> (RFC 3516 §4.2). */
  | { readonly kind: 'binary'; readonly peek: boolean; readonly part: readonly number[]; readonly partial?: Partial }
  /** BINARY.SIZE[part] (RFC 3516 §4.2). */
  | { readonly kind: 'binary-size'; readonly part: readonly number[] };

export interface FetchRequest {
  readonly attributes: readonly FetchAttribute[];
  /** RFC 7162 §3.1.4.1 CHANGEDSINCE modifier (implies MODSEQ). */
  readonly changedSince?: bigint;
  /** RFC 7162 §3.2.6 VANISHED modifier (UID FETCH only, with CHANGEDSINCE). */
  readonly vanished: boolean;
}

const SIMPLE = new Set<string>([
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'UID',
  'MODSEQ',
  'EMAILID',
  'THREADID',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
]);

/** RFC 3501 §6.4.5 macros. */
const MACROS: Record<string, readonly SimpleFetchName[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

function parsePartNumbers(parts: string[]): number[] | null {
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[1-9][0-9]{0,9}$/.test(p)) return null;
    out.push(Number(p));
  }
  return out;
}

/** Parses the tokens inside `[...]` of BODY/BODY.PEEK. */
export function parseSection(tokens: readonly ImapValue[]): ParseResult<Section> {
  if (tokens.length === 0) return ok({ part: [] });
  const head = asAtom(tokens[0], true);
  if (head === undefined) return fail('Invalid section');
  const pieces = head.split('.');
  let i = 0;
  while (i < pieces.length && /^[0-9]+$/.test(pieces[i])) i++;
  const part = parsePartNumbers(pieces.slice(0, i));
  if (!part) return fail('Invalid section part number');
  const text = pieces.slice(i).join('.');
  if (text === '') {
    if (tokens.length !== 1 || part.length === 0) return fail('Invalid section');
    return ok({ part });
  }
  if (text === 'HEADER' || text === 'TEXT' || text === 'MIME') {
    if (tokens.length !== 1) return fail('Invalid section');
    // RFC 3501 §6.4.5: MIME needs a part number.
    if (text === 'MIME' && part.length === 0) return fail('MIME needs a part number');
    return ok({ part, text });
  }
  if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
    const list = tokens[1];
    if (tokens.length !== 2 || list.type !== 'list' || list.items.length === 0) return fail(`${text} needs a list of field names`);
    const fields: string[] = [];
    for (const item of list.items) {
      const f = asAstring(item);
      // RFC 5322 §2.2 field names are printable ASCII except colon.
      if (f === undefined || !/^[\x21-\x39\x3b-\x7e]+$/.test(f)) return fail('Invalid header field name');
      fields.push(f);
    }
    return ok({ part, text, fields });
  }
  return fail('Invalid section');
}

function parseAttribute(v: ImapValue): ParseResult<FetchAttribute> {
  if (v.type === 'atom' && v.section) return parseSectionAtom(v);
  const name = asAtom(v, true);
  if (name === undefined || !SIMPLE.has(name)) return fail(`Invalid fetch attribute ${name ?? ''}`.trim());
  if ((v as AtomValue).partial) return fail('Partial without section');
  return ok({ kind: 'simple', name: name as SimpleFetchName });
}

function parseSectionAtom(v: AtomValue): ParseResult<FetchAttribute> {
  const name = v.value.toUpperCase();
  const partial = v.partial;
  // RFC 3501 §9: the partial length is an nz-number.
  if (partial && partial.length === 0) return fail('Partial length must be positive');
  if (name === 'BODY' || name === 'BODY.PEEK') {
    const section = parseSection(v.section ?? []);
    if (!section.ok) return section;
    const attr: FetchAttribute = partial
      ? { kind: 'section', peek: name === 'BODY.PEEK', section: section.value, partial }
      : { kind: 'section', peek: name === 'BODY.PEEK', section: section.value };
    return ok(attr);
  }
  // RFC 3516 §4.2: section-binary = "[" [section-part] "]".
  const tokens = v.section ?? [];
  let part: number[] = [];
  if (tokens.length > 1) return fail('Invalid binary section');
  if (tokens.length === 1) {
    const t = asAtom(tokens[0]);
    const p = t === undefined ? null : parsePartNumbers(t.split('.'));
    if (!p) return fail('Invalid binary section');
    part = p;
  }
  if (name === 'BINARY.SIZE') {
    if (partial) return fail('BINARY.SIZE takes no partial');
    return ok({ kind: 'binary-size', part });
  }
  const peek = name === 'BINARY.PEEK';
  return ok(partial ? { kind: 'binary', peek, part, partial } : { kind: 'binary', peek, part });
}

/**
 * Parses everything after the sequence set of FETCH / UID FETCH:
 * a macro, one attribute or a list, then optional modifiers `(CHANGEDSINCE n [VANISHED])`.
 */
export function parseFetchArgs(args: readonly ImapValue[]): ParseResult<FetchRequest> {
  if (args.length === 0) return fail('FETCH needs attributes');
  if (args.length > 2) return fail('Too many FETCH arguments');
  const first = args[0];
  const attributes: FetchAttribute[] = [];
  const macro = asAtom(first, true);
  if (macro !== undefined && MACROS[macro]) {
    for (const n of MACROS[macro]) attributes.push({ kind: 'simple', name: n });
  } else {
    const items = first.type === 'list' ? first.items : [first];
    if (items.length === 0) return fail('Empty FETCH attribute list');
    for (const item of items) {
      const a = parseAttribute(item);
      if (!a.ok) return a;
      attributes.push(a.value);
    }
  }
  let changedSince: bigint | undefined;
  let vanished = false;
  if (args.length === 2) {
    const mods = args[1];
    if (mods.type !== 'list' || mods.items.length === 0) return fail('Invalid FETCH modifiers');
    for (let i = 0; i < mods.items.length; i++) {
      const m = asAtom(mods.items[i], true);
      if (m === 'CHANGEDSINCE') {
        const n = asBigNumber(mods.items[++i]);
        if (n === undefined) return fail('CHANGEDSINCE needs a mod-sequence');
        changedSince = n;
      } else if (m === 'VANISHED') {
        vanished = true;
      } else {
        return fail('Unknown FETCH modifier');
      }
    }
    if (vanished && changedSince === undefined) return fail('VANISHED needs CHANGEDSINCE');
  }
  return ok(changedSince === undefined ? { attributes, vanished } : { attributes, changedSince, vanished });
}

/** Whether fetching this attribute sets `\Seen` (RFC 3501 §6.4.5: BODY[], RFC822, RFC822.TEXT, BINARY[]). */
export function fetchSetsSeen(a: FetchAttribute): boolean {
  if (a.kind === 'section' || a.kind === 'binary') return !a.peek;
  return a.kind === 'simple' && (a.name === 'RFC822' || a.name === 'RFC822.TEXT');
}

/** Quotes a header field name for the response item name only when it is not an atom. */
function fieldName(f: string): string {
  return /^[\x21\x23-\x27\x2a-\x5b\x5e-\x7a\x7c\x7e]+$/.test(f) ? f : `"${f.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** `1.2.HEADER.FIELDS (A B)` — the text between the brackets. */
export function formatSection(s: Section): string {
  const parts = s.part.join('.');
  if (!s.text) return parts;
  const head = parts ? `${parts}.${s.text}` : s.text;
  return s.fields ? `${head} (${s.fields.map(fieldName).join(' ')})` : head;
}

/**
 * The item name in the FETCH response (RFC 3501 §7.4.2): `.PEEK` dropped,
 * partial shown as `<offset>` only, RFC822.* kept.
 */
export function fetchItemName(a: FetchAttribute): string {
  switch (a.kind) {
    case 'simple':
      return a.name;
    case 'section':
      return `BODY[${formatSection(a.section)}]${a.partial ? `<${a.partial.offset}>` : ''}`;
    case 'binary':
      return `BINARY[${a.part.join('.')}]${a.partial ? `<${a.partial.offset}>` : ''}`;
    case 'binary-size':
      return `BINARY.SIZE[${a.part.join('.')}]`;
  }
}
