/**
 * Incremental IMAP command reader (RFC 3501 §2.2, §4.3, §7.5; RFC 7888 LITERAL+/LITERAL-).
 *
 * Feed it socket data with `push(chunk)`, then pull events with `next()` until
 * it returns null. Pulling (instead of returning all events from push) lets
 * the session switch modes between two commands: after `IDLE` or
 * `AUTHENTICATE` it calls `readRawLine()` and the following line comes back
 * raw, even if the client pipelined it in the same packet. It also gives
 * back-pressure: a session busy with an APPEND simply stops pulling.
 *
 * Decisions (documented because the RFC leaves them to us):
 * - Line ends: CRLF per RFC 3501 §2.2; a lone LF is accepted too (some
 *   clients and test tools send it; accepting it loses nothing and cannot
 *   be confused with data, since literal bytes are counted, never scanned).
 *   A CR elsewhere is data and makes the command a syntax error.
 * - Empty lines between commands are ignored.
 * - Synchronising literal `{n}`: the reader asks `onLiteral`; if accepted it
 *   yields a `continue` event (the session writes `+ Ready for literal data`
 *   only then, RFC 3501 §7.5), otherwise an `error` event (tagged `NO [TOOBIG]`
 *   or `BAD`), drops the command and reads the next line as a new command —
 *   the client sends no literal after a refusal.
 * - Non-synchronising literal `{n+}` (RFC 7888): accepted up to
 *   `maxNonSyncLiteralBytes` (LITERAL- cap, RFC 7888 §5). A larger one is
 *   refused with `[TOOBIG]` (the error says `nonSync`: RFC 7888 §5 wants a
 *   tagged BAD); the bytes are on their way anyway, so the reader
 *   reads and discards them and the rest of that command; if the size is above
 *   `maxLiteralBytes` the error is `fatal` (send BYE and close, RFC 7888 §4).
 * - The literal caps are per session state: `setLiteralLimits()` changes
 *   them between commands (the session caps both kinds at a few KiB before
 *   authentication and raises them at login). Before login a `{n+}` literal
 *   over the small cap is therefore fatal and its bytes are never buffered or
 *   even read — an unauthenticated client cannot make us hold or drain 64 MiB.
 *   (A literal within the cap that only pushes its command's sum over it is
 *   skipped, which costs at most the cap.)
 * - The caps are also per argument kind (`literalKind`): only the message
 *   of APPEND (RFC 3501 §6.3.11) may be as big as the state's cap. A mailbox
 *   name is capped at LIMITS.imapMailboxNameBytes and any other string at
 *   LIMITS.imapStringBytes; such literals also count towards the command's
 *   text (`maxLineBytes`), so a command without a message is never bigger
 *   than one line. Over its cap a synchronising literal is refused as above;
 *   a `{n+}` one is read and dropped when it is at most
 *   LIMITS.imapDiscardLiteralBytes (RFC 7888 §4, first choice: the session
 *   goes on), otherwise fatal (second choice) and never read (issue 9:
 *   `SELECT {60000000+}` took 2 GB and stalled the node).
 * - A line longer than `maxLineBytes` (text only, literals excluded) yields a
 *   `LINE` error; the reader discards up to the next line end and resyncs.
 * - A raw line (`readRawLine(max)`) longer than its cap yields
 *   `line-too-long`; the rest of it is discarded, so the next line is read
 *   as a command again (issue 9: a 20 MB AUTHENTICATE response used to leave
 *   the reader waiting for the raw line, and the next command was taken as
 *   the SASL response).
 * - Tags (RFC 3501 §9 `tag = 1*<any ASTRING-CHAR except "+">`) are 7-bit
 *   printable; a command with anything else there is answered `* BAD`
 *   untagged, so no 8-bit or control byte is ever echoed.
 * - Nothing thrown from here reaches the socket handler: every malformed input
 *   becomes an `error` event and reading continues at the next line.
 */
import { LIMITS } from '../../common/limits';
import { literalMarkerAtEnd, TokenError, Tokenizer, type AssembledLiteral } from './tokenizer';
import type { ImapCommand, ImapParseError } from './values';

/**
 * What a literal carries, from the command's grammar (RFC 3501 §9): the
 * message of APPEND (RFC 3501 §6.3.11; CATENATE's TEXT parts, RFC 4469,
 * would be messages too), a mailbox name or LIST pattern, or any other
 * string (search strings, credentials, ID values).
 */
export type LiteralKind = 'message' | 'mailbox' | 'string';

/** Commands whose every string argument is a mailbox name, reference or pattern. */
const MAILBOX_COMMANDS = new Set(['SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LIST', 'LSUB', 'STATUS', 'COPY', 'MOVE', 'GETQUOTAROOT']);

/** Cap of a literal of each kind besides the state's cap (message literals have only that one). */
const KIND_CAPS: Record<Exclude<LiteralKind, 'message'>, number> = {
  mailbox: LIMITS.imapMailboxNameBytes,
  string: LIMITS.imapStringBytes,
};

export interface LiteralRequest {
  /** Tag of the command, if it could be read. */
  readonly tag: string | null;
  /** Upper-cased command name (after `UID`), if it could be read. */
  readonly command: string | null;
  readonly kind: LiteralKind;
  readonly size: number;
  /** `~{n}` (RFC 3516). */
  readonly binary: boolean;
  /** Sum of literal bytes already received for this command. */
  readonly receivedLiteralBytes: number;
  /** Message literals already received for this command (MULTIAPPEND, RFC 3502). */
  readonly receivedMessages: number;
}

export type LiteralDecision =
  | { readonly accept: true }
  | { readonly accept: false; readonly code: 'TOOBIG' | 'LIMIT' | 'PARSE'; readonly text: string };

/** Literal caps that can change with the session state (see `setLiteralLimits`). */
export interface LiteralLimits {
  /** Largest literal, and largest sum of literals in one command. */
  readonly maxLiteralBytes: number;
  /** Largest `{n+}` literal accepted without a continuation. */
  readonly maxNonSyncLiteralBytes: number;
  /**
   * Says why the caps are what they are, in refusals (e.g. "before
   * authentication"); without it the text names the byte limit.
   */
  readonly reason?: string;
}

export interface CommandReaderOptions {
  /** Longest command text (all lines of one command, literals excluded). Default LIMITS.imapLineBytes. */
  maxLineBytes?: number;
  /**
   * Largest literal, and largest sum of literals in one command. No default:
   * the session passes config `limits.imapLiteralBytes` (or its smaller
   * pre-login cap).
   */
  maxLiteralBytes: number;
  /** Largest `{n+}` literal accepted without a continuation. Default LIMITS.imapNonSyncLiteralBytes. */
  maxNonSyncLiteralBytes?: number;
  /**
   * Called for each synchronising literal before the continuation is sent
   * (e.g. to refuse an APPEND over quota, or literals before login). Runs after
   * the built-in size cap. Default: accept.
   */
  onLiteral?: (req: LiteralRequest) => LiteralDecision;
}

export type ReaderEvent =
  | { readonly type: 'command'; readonly command: ImapCommand }
  /** Write `+ Ready for literal data\r\n` now (RFC 3501 §7.5). */
  | { readonly type: 'continue'; readonly tag: string | null; readonly size: number }
  /** A raw line requested with `readRawLine()`, without its line end. */
  | { readonly type: 'line'; readonly line: Buffer }
  /** The raw line requested was longer than its cap; it was skipped to its end. */
  | { readonly type: 'line-too-long' }
  | { readonly type: 'error'; readonly error: ImapParseError };

type State =
  | { kind: 'line' }
  | { kind: 'literal'; buf: Buffer; filled: number; form: AssembledLiteral['form'] }
  | { kind: 'skip-literal'; remaining: number }
  | { kind: 'skip-line' };

/** RFC 3501 §9 `tag`: ASTRING-CHAR (7-bit, no CTL, SP or `(){%*"\`) except `+`; `]` is allowed. */
const TAG_RE = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+$/;
const NAME_RE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

export class CommandReader {
  private readonly maxLine: number;
  private maxLiteral: number;
  private maxNonSync: number;
  private limitReason: string | undefined;
  private readonly onLiteral?: (req: LiteralRequest) => LiteralDecision;

  private queue: Buffer[] = [];
  private queued = 0;
  private partial: Buffer[] = [];
  private partialLen = 0;
  private state: State = { kind: 'line' };

  /** The command being assembled. */
  private segments: Buffer[] = [];
  /** Tag and name of the command being assembled, read once from its first line (see `head()`). */
  private headCache: { tag: string | null; name: string | null } | undefined;
  private literals: AssembledLiteral[] = [];
  private textBytes = 0;
  private literalBytes = 0;
  /** Message literals of the current command (see LiteralRequest.receivedMessages). */
  private messageLiterals = 0;
  /**
   * The current command was refused: discard its remaining lines and its
   * non-sync literals up to this size each (false: not discarding).
   */
  private discarding: number | false = false;
  private rawLineRequested = false;
  /** Cap of the raw line requested. */
  private rawMax = 0;

  constructor(options: CommandReaderOptions) {
    this.maxLine = options.maxLineBytes ?? LIMITS.imapLineBytes;
    this.maxLiteral = options.maxLiteralBytes;
    this.maxNonSync = options.maxNonSyncLiteralBytes ?? LIMITS.imapNonSyncLiteralBytes;
    this.onLiteral = options.onLiteral;
  }

  /**
   * Changes the literal caps for literals announced from now on (a literal
   * already being received keeps the cap it was accepted under). The session
   * calls this when its state changes, e.g. at login. Throws RangeError for a
   * negative or non-integer size (a programming error, not client input).
   */
  setLiteralLimits(limits: LiteralLimits): void {
    for (const [name, v] of [['maxLiteralBytes', limits.maxLiteralBytes], ['maxNonSyncLiteralBytes', limits.maxNonSyncLiteralBytes]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    }
    this.maxLiteral = limits.maxLiteralBytes;
    this.maxNonSync = limits.maxNonSyncLiteralBytes;
    this.limitReason = limits.reason;
  }

  /** The caps in force now. */
  get literalLimits(): LiteralLimits {
    return { maxLiteralBytes: this.maxLiteral, maxNonSyncLiteralBytes: this.maxNonSync, ...(this.limitReason ? { reason: this.limitReason } : {}) };
  }

  /** Queue received bytes. Never throws. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Bytes received but not yet turned into events (use it to pause the socket). */
  get bufferedBytes(): number {
    return this.queued + this.partialLen;
  }

  /** True while a command is partly received (between its lines/literals). */
  get inCommand(): boolean {
    return this.segments.length > 0 || this.state.kind === 'literal';
  }

  /**
   * The next complete line is returned raw as a `line` event instead of being
   * parsed (AUTHENTICATE responses RFC 3501 §6.2.2, IDLE's `DONE` RFC 2177).
   * Call it right after handling the command that needs it. A line longer
   * than `maxBytes` (default and at most `maxLineBytes`) gives a
   * `line-too-long` event instead and is skipped to its end.
   */
  readRawLine(maxBytes: number = this.maxLine): void {
    this.rawLineRequested = true;
    this.rawMax = Math.min(maxBytes, this.maxLine);
  }

  /**
   * Hands back the bytes received but not yet read as commands, in order,
   * and forgets them: the login-aware proxy sends them on to the node once
   * the login it replayed there succeeded (a client may pipeline after LOGIN).
   */
  takeUnread(): Buffer {
    const out = Buffer.concat([...this.partial, ...this.queue]);
    this.partial = [];
    this.partialLen = 0;
    this.queue = [];
    this.queued = 0;
    return out;
  }

  /** Cancel a pending `readRawLine()`. */
  cancelRawLine(): void {
    this.rawLineRequested = false;
  }

  /** The next event, or null when more data is needed. Never throws. */
  next(): ReaderEvent | null {
    try {
      return this.step();
    } catch (err) {
      // Defensive: a bug here must not kill the session; drop the command.
      this.resetCommand();
      this.state = { kind: 'skip-line' };
      return this.error(null, `Internal parser error: ${(err as Error).message}`, 'PARSE', false);
    }
  }

  /** Convenience for tests and simple callers: all events available now. */
  drain(): ReaderEvent[] {
    const out: ReaderEvent[] = [];
    for (let ev = this.next(); ev; ev = this.next()) out.push(ev);
    return out;
  }

  private step(): ReaderEvent | null {
    for (;;) {
      const st = this.state;
      if (st.kind === 'literal') {
        if (!this.fillLiteral(st)) return null;
        this.literals.push({ bytes: st.buf, form: st.form });
        this.state = { kind: 'line' };
        continue;
      }
      if (st.kind === 'skip-literal') {
        st.remaining -= this.discard(st.remaining);
        if (st.remaining > 0) return null;
        this.state = { kind: 'line' };
        continue;
      }
      const line = this.readLine(st.kind === 'skip-line');
      if (line === null) return null;
      if (line === 'too-long') {
        if (this.rawPending()) {
          this.rawLineRequested = false;
          this.state = { kind: 'skip-line' };
          return { type: 'line-too-long' };
        }
        const tag = this.currentTag();
        const wasDiscarding = this.discarding;
        this.resetCommand();
        this.state = { kind: 'skip-line' };
        if (wasDiscarding) continue;
        return this.error(tag, 'Command line too long', 'LINE', false);
      }
      if (st.kind === 'skip-line') {
        this.state = { kind: 'line' };
        continue;
      }
      const ev = this.onLine(line);
      if (ev) return ev;
    }
  }

  /** A raw line was asked for and is what comes next. */
  private rawPending(): boolean {
    return this.rawLineRequested && this.segments.length === 0 && this.discarding === false;
  }

  private onLine(line: Buffer): ReaderEvent | null {
    if (this.rawPending()) {
      this.rawLineRequested = false;
      return line.length > this.rawMax ? { type: 'line-too-long' } : { type: 'line', line };
    }
    if (this.discarding !== false) {
      const marker = literalMarkerAtEnd(line);
      if (marker && marker.nonSync && marker.size <= this.discarding) {
        this.state = { kind: 'skip-literal', remaining: marker.size };
      } else {
        this.discarding = false;
      }
      return null;
    }
    if (line.length === 0 && this.segments.length === 0) return null;
    this.textBytes += line.length;
    if (this.textBytes > this.maxLine) {
      const tag = this.currentTag(line);
      this.resetCommand();
      return this.error(tag, 'Command line too long', 'LINE', false);
    }
    this.segments.push(line);
    const marker = literalMarkerAtEnd(line);
    if (!marker) return this.finishCommand();

    const tag = this.currentTag();
    const command = this.currentName();
    const kind = literalKind(command, this.segments, marker.markerStart);
    const size = marker.size;
    // The state's cap, and for names and strings their own (never more than the state's).
    const cap = kind === 'message' ? this.maxLiteral : Math.min(this.maxLiteral, KIND_CAPS[kind]);
    // Sums: all literals within the state's cap; names and strings also within one command line.
    const sumOver = this.literalBytes + size > this.maxLiteral || (kind !== 'message' && this.textBytes + size > this.maxLine);
    const tooBig = size > cap || sumOver;
    const limitText = (): string => {
      if (this.limitReason) return this.limitReason;
      if (size <= cap) return kind === 'message' ? `(max ${this.maxLiteral} octets in one command)` : `(max ${this.maxLine} octets for a command without a message)`;
      return `(max ${marker.nonSync ? Math.min(cap, this.maxNonSync) : cap} octets)`;
    };
    const what = kind === 'mailbox' ? 'Mailbox name literal' : marker.nonSync ? 'Non-synchronizing literal' : 'Literal';
    if (marker.nonSync) {
      if (tooBig || size > this.maxNonSync) {
        // RFC 7888 §4: read and drop what costs no more than the cap allows, else close unread.
        const dropUpTo = kind === 'message' ? this.maxLiteral : Math.min(this.maxLiteral, Math.max(cap, LIMITS.imapDiscardLiteralBytes));
        const fatal = size > dropUpTo;
        this.resetCommand();
        if (!fatal) {
          this.discarding = dropUpTo;
          this.state = { kind: 'skip-literal', remaining: size };
        } else {
          this.state = { kind: 'skip-line' };
        }
        return { type: 'error', error: { tag, text: `${what} too big ${limitText()}`, code: 'TOOBIG', fatal, nonSync: true } };
      }
      this.startLiteral(size, marker.form, kind);
      return null;
    }
    if (tooBig) {
      this.resetCommand();
      return this.error(tag, `${what} too big ${limitText()}`, 'TOOBIG', false);
    }
    const decision = this.onLiteral?.({
      tag,
      command,
      kind,
      size,
      binary: marker.form === 'literal8',
      receivedLiteralBytes: this.literalBytes,
      receivedMessages: this.messageLiterals,
    }) ?? { accept: true as const };
    if (!decision.accept) {
      this.resetCommand();
      return this.error(tag, decision.text, decision.code, false);
    }
    this.startLiteral(size, marker.form, kind);
    return { type: 'continue', tag, size };
  }

  private startLiteral(size: number, form: AssembledLiteral['form'], kind: LiteralKind): void {
    this.literalBytes += size;
    if (kind === 'message') this.messageLiterals++;
    // A name or string counts as command text: a command without a message stays within maxLineBytes.
    if (kind !== 'message') this.textBytes += size;
    this.state = { kind: 'literal', buf: Buffer.allocUnsafe(size), filled: 0, form };
  }

  private finishCommand(): ReaderEvent {
    const segments = this.segments;
    const literals = this.literals;
    this.resetCommand();
    const first = segments[0];
    const sp = first.indexOf(0x20);
    const tag = first.toString('latin1', 0, sp < 0 ? first.length : sp);
    if (!TAG_RE.test(tag)) return this.error(null, 'Invalid tag', 'PARSE', false);
    if (sp < 0) return this.error(tag, 'Missing command', 'PARSE', false);
    let pos = sp + 1;
    const readName = (): string | null => {
      const end = first.indexOf(0x20, pos);
      const stop = end < 0 ? first.length : end;
      const name = first.toString('latin1', pos, stop);
      if (!NAME_RE.test(name)) return null;
      pos = end < 0 ? first.length : end + 1;
      return name.toUpperCase();
    };
    let name = readName();
    if (!name) return this.error(tag, 'Invalid command name', 'PARSE', false);
    let uid = false;
    if (name === 'UID') {
      uid = true;
      name = readName();
      if (!name) return this.error(tag, 'UID needs a command', 'PARSE', false);
    }
    try {
      const args = new Tokenizer({ segments, literals }, pos).parseAll();
      return { type: 'command', command: { tag, name, uid, args } };
    } catch (err) {
      if (err instanceof TokenError) return this.error(tag, err.message, 'PARSE', false);
      throw err;
    }
  }

  private error(tag: string | null, text: string, code: ImapParseError['code'], fatal: boolean): ReaderEvent {
    return { type: 'error', error: { tag, text, code, fatal } };
  }

  private resetCommand(): void {
    this.segments = [];
    this.headCache = undefined;
    this.literals = [];
    this.textBytes = 0;
    this.literalBytes = 0;
    this.messageLiterals = 0;
  }

  private currentTag(line?: Buffer): string | null {
    const first = this.segments[0] ?? line;
    if (!first) return null;
    return this.segments.length ? this.head().tag : readHead(first).tag;
  }

  private currentName(): string | null {
    return this.segments.length ? this.head().name : null;
  }

  /** Tag and name of the command being assembled, computed once (a command may have thousands of literals). */
  private head(): { tag: string | null; name: string | null } {
    this.headCache ??= readHead(this.segments[0]);
    return this.headCache;
  }

  /** Copies queued bytes into the literal; true when it is complete. */
  private fillLiteral(st: Extract<State, { kind: 'literal' }>): boolean {
    while (st.filled < st.buf.length && this.queue.length > 0) {
      const head = this.queue[0];
      const n = Math.min(head.length, st.buf.length - st.filled);
      head.copy(st.buf, st.filled, 0, n);
      st.filled += n;
      this.consumeHead(n);
    }
    return st.filled === st.buf.length;
  }

  private discard(max: number): number {
    let done = 0;
    while (done < max && this.queue.length > 0) {
      const n = Math.min(this.queue[0].length, max - done);
      this.consumeHead(n);
      done += n;
    }
    return done;
  }

  private consumeHead(n: number): void {
    const head = this.queue[0];
    if (n >= head.length) this.queue.shift();
    else this.queue[0] = head.subarray(n);
    this.queued -= n;
  }

  /**
   * The next line without its line end, null if incomplete, or 'too-long'
   * (then the partial bytes are dropped). In skip mode bytes are not kept.
   */
  private readLine(skipping: boolean): Buffer | 'too-long' | null {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      const lf = head.indexOf(0x0a);
      if (lf < 0) {
        this.consumeHead(head.length);
        if (!skipping) {
          this.partial.push(head);
          this.partialLen += head.length;
          const max = this.rawPending() ? this.rawMax : this.maxLine;
          if (this.partialLen + this.textBytes > max + 1) {
            this.partial = [];
            this.partialLen = 0;
            return 'too-long';
          }
        }
        continue;
      }
      const piece = head.subarray(0, lf);
      this.consumeHead(lf + 1);
      if (skipping) {
        this.partial = [];
        this.partialLen = 0;
        return Buffer.alloc(0);
      }
      let line = this.partial.length ? Buffer.concat([...this.partial, piece]) : piece;
      this.partial = [];
      this.partialLen = 0;
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      // Copy: the line must not pin a large socket buffer.
      return Buffer.from(line);
    }
    return null;
  }
}

/**
 * The kind of a literal whose marker ends the command's latest line: for
 * APPEND the mailbox when it is the first argument (`tag APPEND {n}`), the
 * message otherwise (flags and date-time cannot be literals, RFC 3501 §9
 * `append`); for commands that take only mailbox names a mailbox; else a string.
 */
function literalKind(command: string | null, segments: readonly Buffer[], markerStart: number): LiteralKind {
  if (command === 'APPEND') {
    if (segments.length !== 1) return 'message';
    const before = segments[0].toString('latin1', 0, markerStart).trim().split(/ +/);
    return before.length === 2 ? 'mailbox' : 'message';
  }
  return command !== null && MAILBOX_COMMANDS.has(command) ? 'mailbox' : 'string';
}

/** The tag and upper-cased command name (after `UID`) at the start of a command's first line, where valid. */
function readHead(first: Buffer): { tag: string | null; name: string | null } {
  const sp = first.indexOf(0x20);
  if (sp <= 0) return { tag: null, name: null };
  const tagText = first.toString('latin1', 0, sp);
  const tag = TAG_RE.test(tagText) ? tagText : null;
  // Names are short: look at no more than the two words after the tag.
  const words = first.toString('latin1', sp + 1, Math.min(first.length, sp + 1 + 2 * 65)).split(' ');
  const name = (words[0] ?? '').toUpperCase();
  if (name === 'UID') return { tag, name: NAME_RE.test(words[1] ?? '') ? words[1].toUpperCase() : null };
  return { tag, name: NAME_RE.test(name) ? name : null };
}
