/**
 * `analyzeMessage`: one pass over a raw RFC 5322 message that records the
 * MIME tree (RFC 2045/2046) with byte offsets, plus what ENVELOPE and
 * BODYSTRUCTURE need (RFC 3501 §7.4.2). The store keeps the result next to
 * the message, so FETCH ENVELOPE/BODYSTRUCTURE and most SEARCH keys never
 * read the body again.
 *
 * Multipart parsing follows the boundary stack the way a streaming reader
 * does (and Dovecot does): a boundary line closes the innermost open
 * multipart that owns it, so an inner part that reuses its parent's boundary
 * or lacks its close delimiter still gives a sensible tree.
 */
import { parseAddressList, type EnvelopeAddress } from './address';
import {
  firstField,
  parseContentType,
  parseDisposition,
  parseEncoding,
  parseHeaderFields,
  parseLanguage,
  paramValue,
  type HeaderField,
} from './header';
import { sortFields, type SortFields } from './sort-fields';

/**
 * Bump when the summary changes, so cached summaries are analysed again
 * (the FETCH and SEARCH commands check it with isCurrentSummary; SORT and
 * THREAD read older ones through sortFieldsOf). 2: parameter names keep
 * their case, text parts always carry a charset, part extents next to
 * nested close delimiters and header-only parts as Dovecot reports them.
 * 3: `sort` (RFC 5256/5957 SORT and THREAD material, ./sort-fields.ts).
 */
export const SUMMARY_VERSION = 3;

/** RFC 3501 §7.4.2 ENVELOPE fields. Strings are binary strings (latin1, one char per byte) of the header text. */
export interface Envelope {
  readonly date: string | null;
  readonly subject: string | null;
  readonly from: readonly EnvelopeAddress[] | null;
  readonly sender: readonly EnvelopeAddress[] | null;
  readonly replyTo: readonly EnvelopeAddress[] | null;
  readonly to: readonly EnvelopeAddress[] | null;
  readonly cc: readonly EnvelopeAddress[] | null;
  readonly bcc: readonly EnvelopeAddress[] | null;
  readonly inReplyTo: string | null;
  readonly messageId: string | null;
}

/** One MIME entity. Offsets are absolute byte offsets into the raw message. */
export interface MimePart {
  readonly headerStart: number;
  /** End of the header including its empty line; equal to bodyStart. */
  readonly headerEnd: number;
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** LF count in the body (RFC 3501 body-fld-lines for text/* and message/rfc822). */
  readonly bodyLines: number;
  /** Media type as written (lower-cased only where noted), '' when the header was invalid. */
  readonly type: string;
  readonly subtype: string;
  /** Lower-cased `type/subtype` used for decisions. */
  readonly mediaType: string;
  /** Content-Type parameters; null when there were none. */
  readonly params: ReadonlyArray<readonly [string, string]> | null;
  readonly id: string | null;
  readonly description: string | null;
  readonly encoding: string | null;
  readonly md5: string | null;
  readonly disposition: { readonly type: string; readonly params: ReadonlyArray<readonly [string, string]> | null } | null;
  readonly language: readonly string[] | null;
  readonly location: string | null;
  /** Children of a multipart. */
  readonly parts?: readonly MimePart[];
  /** The encapsulated message of a message/rfc822 part (its root entity). */
  readonly message?: MimePart;
  /** ENVELOPE of the encapsulated message (message/rfc822 parts only). */
  readonly envelope?: Envelope;
}

export interface MessageSummary {
  readonly version: number;
  /** RFC822.SIZE: the exact byte count. */
  readonly size: number;
  readonly envelope: Envelope;
  /** The message itself as the root entity. */
  readonly root: MimePart;
  /**
   * The top-level header block (binary string, including the empty line):
   * lets SEARCH HEADER/FROM/… and BODY[HEADER.FIELDS] run without the body.
   */
  readonly header: string;
  /** What SORT and THREAD compare (RFC 5256, RFC 5957); read it through sortFieldsOf(). */
  readonly sort: SortFields;
}

/** Nesting deeper than this is treated as a leaf (protects the stack; RFC 2046 sets no limit). */
const MAX_DEPTH = 64;

class LineCursor {
  pos: number;
  constructor(
    readonly raw: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  get eof(): boolean {
    return this.pos >= this.raw.length;
  }

  /** End of the current line (after its LF, or the buffer end). */
  lineEnd(): number {
    const lf = this.raw.indexOf(0x0a, this.pos);
    return lf < 0 ? this.raw.length : lf + 1;
  }

  /** True if the current line is empty (just CRLF or LF). */
  emptyLine(): boolean {
    const b = this.raw[this.pos];
    return b === 0x0a || (b === 0x0d && this.raw[this.pos + 1] === 0x0a);
  }
}

interface BoundaryMatch {
  level: number;
  closing: boolean;
}

function matchBoundary(raw: Buffer, pos: number, stack: readonly Buffer[]): BoundaryMatch | null {
  if (raw[pos] !== 0x2d || raw[pos + 1] !== 0x2d || stack.length === 0) return null;
  for (let level = stack.length - 1; level >= 0; level--) {
    const b = stack[level];
    if (raw.length - pos - 2 >= b.length && raw.compare(b, 0, b.length, pos + 2, pos + 2 + b.length) === 0) {
      const after = pos + 2 + b.length;
      return { level, closing: raw[after] === 0x2d && raw[after + 1] === 0x2d };
    }
  }
  return null;
}

/** Start of the line break before `pos` (the CRLF before a boundary belongs to the boundary, RFC 2046 §5.1.1). */
function beforeLineBreak(raw: Buffer, pos: number, floor: number): number {
  let p = pos;
  if (p > floor && raw[p - 1] === 0x0a) {
    p--;
    if (p > floor && raw[p - 1] === 0x0d) p--;
  }
  return p;
}

function countLines(raw: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = raw.indexOf(0x0a, start); i >= 0 && i < end; i = raw.indexOf(0x0a, i + 1)) n++;
  return n;
}

function str(f: HeaderField | undefined): string | null {
  return f?.value ?? null;
}

/** All fields of that name contribute (a message with two To: lines lists both, as Dovecot does). */
function addresses(fields: readonly HeaderField[], name: string): EnvelopeAddress[] | null {
  const lower = name.toLowerCase();
  const list: EnvelopeAddress[] = [];
  for (const f of fields) {
    if (f.value !== null && f.name.toLowerCase() === lower) list.push(...parseAddressList(f.value));
  }
  return list.length ? list : null;
}

/** RFC 3501 §7.4.2: sender and reply-to default to from. */
export function buildEnvelope(fields: readonly HeaderField[]): Envelope {
  const from = addresses(fields, 'From');
  return {
    date: str(firstField(fields, 'Date')),
    subject: str(firstField(fields, 'Subject')),
    from,
    sender: addresses(fields, 'Sender') ?? from,
    replyTo: addresses(fields, 'Reply-To') ?? from,
    to: addresses(fields, 'To'),
    cc: addresses(fields, 'Cc'),
    bcc: addresses(fields, 'Bcc'),
    inReplyTo: str(firstField(fields, 'In-Reply-To')),
    messageId: str(firstField(fields, 'Message-ID')),
  };
}

class Analyzer {
  /** End of the last close-delimiter line read (after its line break); see finish() in entity(). */
  private closeLineEnd = 0;
  /** End of each entity's header as read (with its blank line), before finish() trims it. */
  private readonly headerEnds = new Map<MimePart, number>();
  constructor(private readonly raw: Buffer) {}

  /** Reads the header at the cursor; stops at the empty line, a boundary line or the end. */
  private readHeader(cur: LineCursor, stack: readonly Buffer[]): { start: number; end: number; fields: HeaderField[] } {
    const start = cur.pos;
    while (!cur.eof) {
      if (cur.emptyLine()) {
        cur.pos = cur.lineEnd();
        break;
      }
      if (matchBoundary(this.raw, cur.pos, stack)) break;
      cur.pos = cur.lineEnd();
    }
    const block = this.raw.toString('latin1', start, cur.pos);
    return { start, end: cur.pos, fields: parseHeaderFields(block) };
  }

  /** Advances past lines up to (not including) a boundary line of the stack, or the end. */
  private skipToBoundary(cur: LineCursor, stack: readonly Buffer[]): BoundaryMatch | null {
    while (!cur.eof) {
      const m = matchBoundary(this.raw, cur.pos, stack);
      if (m) return m;
      cur.pos = cur.lineEnd();
    }
    return null;
  }

  entity(cur: LineCursor, defaultType: 'text/plain' | 'message/rfc822', stack: Buffer[], depth: number): MimePart {
    const raw = this.raw;
    const header = this.readHeader(cur, stack);
    const fields = header.fields;
    const bodyStart = cur.pos;
    const ctField = firstField(fields, 'Content-Type');
    let type: string;
    let subtype: string;
    let params: Array<[string, string]> | null;
    let mediaType: string;
    if (ctField && ctField.value !== null) {
      const ct = parseContentType(ctField.value);
      type = ct.type;
      subtype = ct.subtype;
      params = ct.valid && ct.params.length ? ct.params : null;
      // RFC 2045 §5.2: text without a charset parameter is us-ascii; reported explicitly, after the
      // parameters it has (`name`, `format`, ...), as Dovecot does.
      if (ct.valid && ct.type.toLowerCase() === 'text' && paramValue(params, 'charset') === undefined) {
        params = [...(params ?? []), ['charset', 'us-ascii']];
      }
      mediaType = ct.valid ? `${ct.type}/${ct.subtype}`.toLowerCase() : '';
      if (mediaType === 'multipart/') {
        // A multipart without a subtype cannot be split (RFC 2046 §5.1.1 needs multipart/<subtype> and a
        // boundary): report it as opaque data, as Dovecot does.
        type = 'application';
        subtype = 'octet-stream';
        params = null;
        mediaType = 'application/octet-stream';
      }
    } else if (defaultType === 'message/rfc822') {
      // RFC 2046 §5.1.5: parts of multipart/digest default to message/rfc822.
      type = 'message';
      subtype = 'rfc822';
      params = null;
      mediaType = 'message/rfc822';
    } else {
      // RFC 2045 §5.2 default.
      type = 'text';
      subtype = 'plain';
      params = [['charset', 'us-ascii']];
      mediaType = 'text/plain';
    }
    if (mediaType === 'message/rfc822') {
      // Reported in this spelling whatever the case in the header.
      type = 'message';
      subtype = 'rfc822';
    }
    const encField = firstField(fields, 'Content-Transfer-Encoding');
    const dispField = firstField(fields, 'Content-Disposition');
    const langField = firstField(fields, 'Content-Language');
    const disp = dispField?.value != null ? parseDisposition(dispField.value) : null;
    const lang = langField?.value != null ? parseLanguage(langField.value) : null;
    const common = {
      headerStart: header.start,
      headerEnd: header.end,
      bodyStart,
      type,
      subtype,
      mediaType,
      params,
      id: str(firstField(fields, 'Content-ID')),
      description: str(firstField(fields, 'Content-Description')),
      encoding: encField?.value != null ? parseEncoding(encField.value) : null,
      md5: str(firstField(fields, 'Content-MD5')),
      disposition: disp ? { type: disp.type, params: disp.params.length ? disp.params : null } : null,
      language: lang && lang.length ? lang : null,
      location: str(firstField(fields, 'Content-Location')),
    };

    /**
     * Where this entity ends, at the boundary line (or the end) the cursor
     * is on. RFC 2046 §5.1.1: the line break before a boundary belongs to
     * the boundary, so the entity ends before it — in its header too, when
     * no body follows — but never inside a nested multipart's close
     * delimiter line (that line keeps its line break; Dovecot reports the
     * same extents). A message/rfc822 part holds at least the whole header
     * of the message in it (`headerFloor`).
     */
    const finish = (extra: Partial<MimePart>, headerFloor = header.start): MimePart => {
      let end = raw.length;
      if (!cur.eof) {
        end = beforeLineBreak(raw, cur.pos, header.start);
        if (this.closeLineEnd > header.start) end = Math.max(end, this.closeLineEnd);
        end = Math.max(end, headerFloor);
      }
      const headerEnd = Math.min(header.end, end);
      const start = Math.min(bodyStart, end);
      const part = { ...common, ...extra, headerEnd, bodyStart: start, bodyEnd: end, bodyLines: countLines(raw, start, end) } as MimePart;
      this.headerEnds.set(part, header.end);
      return part;
    };

    const boundary = paramValue(params, 'boundary');
    if (mediaType.startsWith('multipart/') && depth < MAX_DEPTH) {
      const parts: MimePart[] = [];
      if (!boundary) {
        // No boundary: nothing can be split. Like Dovecot, report one empty text/plain part.
        this.skipToBoundary(cur, stack);
        const at = cur.eof ? raw.length : beforeLineBreak(raw, cur.pos, bodyStart);
        parts.push(emptyPart(at));
        return finish({ parts });
      }
      const childDefault = mediaType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const inner = [...stack, Buffer.from(boundary, 'latin1')];
      const myLevel = inner.length - 1;
      let closed = false;
      for (;;) {
        const m = this.skipToBoundary(cur, closed ? stack : inner);
        if (!m) break;
        if (closed || m.level < myLevel) break; // an outer boundary ends this multipart
        cur.pos = cur.lineEnd();
        if (m.closing) {
          closed = true;
          this.closeLineEnd = cur.pos;
          continue; // epilogue until an outer boundary or the end
        }
        parts.push(this.entity(cur, childDefault, inner, depth + 1));
      }
      if (parts.length === 0) parts.push(emptyPart(cur.eof ? raw.length : beforeLineBreak(raw, cur.pos, bodyStart)));
      return finish({ parts });
    }
    if (mediaType === 'message/rfc822' && depth < MAX_DEPTH) {
      const message = this.entity(cur, 'text/plain', stack, depth + 1);
      const messageHeaderEnd = this.headerEnds.get(message) ?? message.headerEnd;
      // The envelope from the message's whole header, even when its blank line is the boundary's line break.
      const headerBlock = raw.toString('latin1', message.headerStart, messageHeaderEnd);
      return finish({ message, envelope: buildEnvelope(parseHeaderFields(headerBlock)) }, messageHeaderEnd);
    }
    this.skipToBoundary(cur, stack);
    return finish({});
  }
}

function emptyPart(at: number): MimePart {
  return {
    headerStart: at,
    headerEnd: at,
    bodyStart: at,
    bodyEnd: at,
    bodyLines: 0,
    type: 'text',
    subtype: 'plain',
    mediaType: 'text/plain',
    params: [['charset', 'us-ascii']],
    id: null,
    description: null,
    encoding: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
  };
}

/** A cached analyzer result made by this version of analyzeMessage (see SUMMARY_VERSION). */
export function isCurrentSummary(v: unknown): v is MessageSummary {
  return typeof v === 'object' && v !== null && 'root' in v && (v as { version?: unknown }).version === SUMMARY_VERSION;
}

/** Analyses a raw message. Never throws on malformed input; the result is plain JSON data. */
export function analyzeMessage(raw: Buffer): MessageSummary {
  const root = new Analyzer(raw).entity(new LineCursor(raw, 0), 'text/plain', [], 0);
  const header = raw.toString('latin1', root.headerStart, root.headerEnd);
  const fields = parseHeaderFields(header);
  const envelope = buildEnvelope(fields);
  return { version: SUMMARY_VERSION, size: raw.length, envelope, root, header, sort: sortFields(envelope, fields) };
}

/**
 * The SORT/THREAD fields of a cached summary. One from an older analyzer
 * (no `sort`, or a different version) is never trusted: its fields are
 * worked out again from its top-level header block, which every version
 * keeps as the message's bytes, so no message file is read. Null when the
 * value is not a summary at all.
 */
export function sortFieldsOf(v: unknown): SortFields | null {
  if (isCurrentSummary(v)) return v.sort;
  if (typeof v !== 'object' || v === null || typeof (v as { header?: unknown }).header !== 'string') return null;
  const fields = parseHeaderFields((v as { header: string }).header);
  return sortFields(buildEnvelope(fields), fields);
}
