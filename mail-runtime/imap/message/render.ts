/**
 * FETCH data items from a message summary (and the raw bytes for body
 * sections), in RFC 3501 §7.4.2 format, as typed response values for the
 * protocol compiler.
 */
import {
  atom,
  concat,
  fetchItemName,
  list,
  lit,
  lit8,
  NIL,
  num,
  str,
  type FetchAttribute,
  type ResponseValue,
  type Section,
} from '../protocol';
import type { EnvelopeAddress } from './address';
import type { Envelope, MessageSummary, MimePart } from './analyze';
import { parseHeaderFields } from './header';
import { decodeTransfer } from './text';

/** BINARY of a part whose Content-Transfer-Encoding we cannot undo: the FETCH fails with NO [UNKNOWN-CTE] (RFC 3516 §4.2). */
export class UnknownCteError extends Error {}

/**
 * Content of BINARY[part] (RFC 3516 §4.2, before partial): the part's body
 * with its Content-Transfer-Encoding undone; `[]` is the whole message as
 * stored. Multiparts and encapsulated messages are returned as they are
 * (RFC 2045 §6.4 allows them no encoding to undo). Null when there is no
 * such part; UnknownCteError for an encoding we do not know.
 */
export function binaryBytes(raw: Buffer, summary: MessageSummary, path: readonly number[]): Buffer | null {
  if (path.length === 0) return raw;
  const part = findPart(summary, path);
  if (!part) return null;
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  if (part.parts || part.message) return body;
  const decoded = decodeTransfer(body, part.encoding);
  if (!decoded) throw new UnknownCteError(`Unknown Content-Transfer-Encoding ${part.encoding ?? ''} in part ${path.join('.')}`);
  return decoded;
}

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

/** nstring; a value with CR/LF loses them first (folds become plain WSP). */
function nstringNoLf(s: string | null): ResponseValue {
  if (s === null) return NIL;
  return str(bin(s.replace(/[\r\n]/g, '')));
}

/**
 * Text meant for people (subject, display names): whitespace runs (including
 * folds) become one space and leading/trailing space goes; a value that needed
 * any change, or has `"`, `\` or 8-bit bytes, goes as a literal. RFC 3501
 * allows either form; this matches Dovecot's output byte for byte.
 */
export function humanString(s: string | null): ResponseValue {
  if (s === null) return NIL;
  let modify = false;
  let lastLwsp = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0x80 || c === 0x22 || c === 0x5c) {
      modify = true;
      lastLwsp = false;
    } else if (c === 0x0d || c === 0x0a || c === 0x09 || c === 0x20) {
      if (c !== 0x20 || lastLwsp) modify = true;
      lastLwsp = true;
    } else lastLwsp = false;
  }
  if (lastLwsp && s.length > 0) modify = true;
  if (!modify) return str(bin(s));
  const collapsed = s
    .replace(/\0/g, '\x80')
    .replace(/[\r\n\t ]+/g, ' ')
    .replace(/^ | $/g, '');
  return lit(bin(collapsed));
}

function addressList(list_: readonly EnvelopeAddress[] | null): ResponseValue {
  if (!list_ || list_.length === 0) return NIL;
  return list([
    concat(
      list_.map((a) =>
        list([humanString(a.name), a.adl === null ? NIL : str(bin(a.adl)), a.mailbox === null ? NIL : str(bin(a.mailbox)), a.host === null ? NIL : str(bin(a.host))]),
      ),
    ),
  ]);
}

/** RFC 3501 §7.4.2 ENVELOPE (without the item name). */
export function envelopeValue(e: Envelope): ResponseValue {
  return list([
    nstringNoLf(e.date),
    humanString(e.subject),
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    nstringNoLf(e.inReplyTo),
    nstringNoLf(e.messageId),
  ]);
}

function params(p: MimePart['params']): ResponseValue {
  if (!p || p.length === 0) return NIL;
  return list(p.flatMap(([k, v]) => [str(bin(k)), str(bin(v))]));
}

function partSize(p: MimePart): number {
  return p.bodyEnd - p.bodyStart;
}

/** RFC 3501 §7.4.2 BODYSTRUCTURE (`extended`) or BODY (not extended). */
export function bodyStructureValue(p: MimePart, extended: boolean): ResponseValue {
  if (p.parts) {
    const items: ResponseValue[] = [concat(p.parts.map((c) => bodyStructureValue(c, extended))), str(bin(p.subtype))];
    if (extended) items.push(params(p.params), disposition(p), language(p), nstringNoLf(p.location));
    return list(items);
  }
  const basic: ResponseValue[] = [
    str(bin(p.type)),
    str(bin(p.subtype)),
    params(p.params),
    nstringNoLf(p.id),
    nstringNoLf(p.description),
    str(bin(p.encoding ?? '7bit')),
    num(partSize(p)),
  ];
  if (p.message && p.envelope) {
    basic.push(envelopeValue(p.envelope), bodyStructureValue(p.message, extended), num(p.bodyLines));
  } else if (p.mediaType.startsWith('text/')) {
    basic.push(num(p.bodyLines));
  }
  if (extended) basic.push(nstringNoLf(p.md5), disposition(p), language(p), nstringNoLf(p.location));
  return list(basic);
}

function disposition(p: MimePart): ResponseValue {
  if (!p.disposition) return NIL;
  return list([str(bin(p.disposition.type)), params(p.disposition.params)]);
}

function language(p: MimePart): ResponseValue {
  if (!p.language) return NIL;
  return p.language.length === 1 ? str(bin(p.language[0])) : list(p.language.map((l) => str(bin(l))));
}

/**
 * The part a section's numbers name (RFC 3501 §6.4.5). A non-multipart
 * message has part 1 (itself); the parts of an encapsulated message/rfc822
 * are numbered inside it. Null when there is no such part.
 */
export function findPart(summary: MessageSummary, path: readonly number[]): MimePart | null {
  let part: MimePart | null = null;
  for (const idx of path) {
    let container: MimePart;
    if (part === null) container = summary.root;
    else if (part.message) container = part.message;
    else if (part.parts) container = part;
    else return null;
    if (container.parts) {
      part = container.parts[idx - 1] ?? null;
      if (!part) return null;
    } else {
      if (idx !== 1) return null;
      part = container;
    }
  }
  return part;
}

/** The header block of an entity and its bytes. */
function headerFieldsBytes(raw: Buffer, entity: MimePart, names: readonly string[], not: boolean): Buffer {
  const block = raw.toString('latin1', entity.headerStart, entity.headerEnd);
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  let out = '';
  for (const f of parseHeaderFields(block)) {
    const match = f.value !== null && wanted.has(f.name.toLowerCase());
    if (match !== not) {
      let text = block.slice(f.start, f.end);
      if (!text.endsWith('\n')) text += '\r\n';
      out += text;
    }
  }
  // RFC 3501 §6.4.5: the result includes the blank line that ends a header.
  return bin(`${out}\r\n`);
}

/**
 * Bytes of a BODY[section] (before partial), or null when the section does
 * not exist (the caller answers NIL). `raw` is the whole message.
 */
export function sectionBytes(raw: Buffer, summary: MessageSummary, section: Section): Buffer | null {
  let part: MimePart;
  if (section.part.length === 0) {
    part = summary.root;
  } else {
    const found = findPart(summary, section.part);
    if (!found) return null;
    part = found;
  }
  if (!section.text) {
    if (section.part.length === 0) return raw;
    return raw.subarray(part.bodyStart, part.bodyEnd);
  }
  if (section.text === 'MIME') return raw.subarray(part.headerStart, part.headerEnd);
  // HEADER, HEADER.FIELDS, TEXT of a part number refer to its encapsulated message.
  const entity = section.part.length === 0 ? summary.root : part.message;
  if (!entity) return null;
  switch (section.text) {
    case 'HEADER':
      return raw.subarray(entity.headerStart, entity.headerEnd);
    case 'TEXT':
      return raw.subarray(entity.bodyStart, entity.bodyEnd);
    case 'HEADER.FIELDS':
      return headerFieldsBytes(raw, entity, section.fields ?? [], false);
    case 'HEADER.FIELDS.NOT':
      return headerFieldsBytes(raw, entity, section.fields ?? [], true);
  }
}

/** Applies `<offset.length>` (RFC 3501 §6.4.5: past the end gives an empty string). */
export function applyPartial(bytes: Buffer, partial: { offset: number; length?: number } | undefined): Buffer {
  if (!partial) return bytes;
  const start = Math.min(partial.offset, bytes.length);
  const end = partial.length === undefined ? bytes.length : Math.min(bytes.length, start + partial.length);
  return bytes.subarray(start, end);
}

/** Items that need only the summary (no body read). */
export function needsRawMessage(attr: FetchAttribute): boolean {
  if (attr.kind === 'simple') return attr.name === 'RFC822' || attr.name === 'RFC822.TEXT' || attr.name === 'RFC822.HEADER';
  if (attr.kind === 'section') {
    const t = attr.section.text;
    // The top-level header is cached in the summary.
    return !(attr.section.part.length === 0 && (t === 'HEADER' || t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT'));
  }
  return true;
}

/**
 * Whether a content item needs the message's summary (its MIME structure,
 * envelope or cached header). BODY[] / BODY.PEEK[] (RFC 3501 §6.4.5: the
 * whole message, empty section), RFC822 (§6.4.5: the same as BODY[]),
 * BINARY[] / BINARY.SIZE[] (RFC 3516 §4.2: the empty part is the whole
 * message as stored) and RFC822.SIZE (the index has the size) are served
 * from the raw bytes alone: a FETCH of only those neither loads nor parses
 * a summary.
 */
export function needsSummary(attr: FetchAttribute): boolean {
  if (attr.kind === 'simple') return attr.name !== 'RFC822' && attr.name !== 'RFC822.SIZE';
  if (attr.kind === 'section') return attr.section.part.length > 0 || attr.section.text !== undefined;
  if (attr.kind === 'binary' || attr.kind === 'binary-size') return attr.part.length > 0;
  return true;
}

/** The items needsSummary() says need no summary, from the raw message alone; null for any other item. */
function renderRawItem(attr: FetchAttribute, raw: Buffer): [ResponseValue, ResponseValue] | null {
  if (needsSummary(attr)) return null;
  const name = atom(fetchItemName(attr));
  switch (attr.kind) {
    case 'simple':
      return attr.name === 'RFC822' ? [name, lit(raw)] : [name, num(raw.length)];
    case 'section':
      return [name, lit(applyPartial(raw, attr.partial))];
    case 'binary-size':
      return [name, num(raw.length)];
    case 'binary': {
      const out = applyPartial(raw, attr.partial);
      // RFC 3516 §4.2: content with NULs needs literal8.
      return [name, out.includes(0) ? lit8(out) : lit(out)];
    }
  }
}

/**
 * One FETCH data item (name and value) for the message-content attributes:
 * ENVELOPE, BODYSTRUCTURE, BODY, RFC822.SIZE, RFC822, RFC822.HEADER,
 * RFC822.TEXT, BODY[section]<partial>, BINARY[part]<partial> and
 * BINARY.SIZE[part] (RFC 3516; UnknownCteError when the part's encoding is
 * unknown). Returns null for attributes that are not about content (FLAGS,
 * UID, INTERNALDATE, MODSEQ): the commands layer renders those. `raw` may be omitted when `needsRawMessage` is false;
 * `summary` may be undefined when `needsSummary` is false.
 */
export function renderFetchItem(attr: FetchAttribute, summary: MessageSummary | undefined, raw?: Buffer): [ResponseValue, ResponseValue] | null {
  if (!summary) {
    // Only what needsSummary() allows (RFC822.SIZE from the raw length: the caller answers it from the index anyway).
    if (!raw) throw new Error('renderFetchItem: without a summary this item needs the raw message');
    const pair = renderRawItem(attr, raw);
    if (!pair) throw new Error(`renderFetchItem: ${fetchItemName(attr)} needs the message summary`);
    return pair;
  }
  const name = atom(fetchItemName(attr));
  // Top-level header sections can be served from the cached header block.
  const source = raw ?? bin(summary.header);
  if (attr.kind === 'simple') {
    switch (attr.name) {
      case 'ENVELOPE':
        return [name, envelopeValue(summary.envelope)];
      case 'BODYSTRUCTURE':
        return [name, bodyStructureValue(summary.root, true)];
      case 'BODY':
        return [name, bodyStructureValue(summary.root, false)];
      case 'RFC822.SIZE':
        return [name, num(summary.size)];
      case 'RFC822':
        return [name, lit(requireRaw(raw))];
      case 'RFC822.HEADER':
        return [name, lit(bin(summary.header))];
      case 'RFC822.TEXT': {
        const r = requireRaw(raw);
        return [name, lit(r.subarray(summary.root.bodyStart, summary.root.bodyEnd))];
      }
      default:
        return null;
    }
  }
  if (attr.kind === 'binary' || attr.kind === 'binary-size') {
    const bytes = binaryBytes(requireRaw(raw), summary, attr.part);
    if (attr.kind === 'binary-size') return [name, bytes === null ? NIL : num(bytes.length)];
    if (bytes === null) return [name, NIL];
    const out = applyPartial(bytes, attr.partial);
    // RFC 3516 §4.2: content with NULs needs literal8; anything else goes as a plain literal.
    return [name, out.includes(0) ? lit8(out) : lit(out)];
  }
  if (attr.kind !== 'section') return null;
  const bytes = sectionBytes(needsRawMessage(attr) ? requireRaw(raw) : source, summary, attr.section);
  if (bytes === null) return [name, NIL];
  return [name, lit(applyPartial(bytes, attr.partial))];
}

function requireRaw(raw: Buffer | undefined): Buffer {
  if (!raw) throw new Error('renderFetchItem: this item needs the raw message');
  return raw;
}
