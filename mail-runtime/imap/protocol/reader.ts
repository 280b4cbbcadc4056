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
 *   refused with `[TOOBIG]`; the bytes are on their way anyway, so the reader
 *   reads and discards them and the rest of that command; if the size is above
 *   `maxLiteralBytes` the error is `fatal` (send BYE and close, RFC 7888 §4).
 * - The literal caps are per session state: `setLiteralLimits()` changes
 *   them between commands (the session caps both kinds at a few KiB before
 *   authentication and raises them at login). Before login a `{n+}` literal
 *   over the small cap is therefore fatal and its bytes are never buffered or
 *   even read — an unauthenticated client cannot make us hold or drain 64 MiB.
 *   (A literal within the cap that only pushes its command's sum over it is
 *   skipped, which costs at most the cap.)
 * - A line longer than `maxLineBytes` (text only, literals excluded) yields a
 *   `LINE` error; the reader discards up to the next line end and resyncs.
 * - Nothing thrown from here reaches the socket handler: every malformed input
 *   becomes an `error` event and reading continues at the next line.
 */
import { LIMITS } from '../../common/limits';
import { literalMarkerAtEnd, TokenError, Tokenizer, type AssembledLiteral } from './tokenizer';
import type { ImapCommand, ImapParseError } from './values';

export interface LiteralRequest {
  /** Tag of the command, if it could be read. */
  readonly tag: string | null;
  /** Upper-cased command name (after `UID`), if it could be read. */
  readonly command: string | null;
  readonly size: number;
  /** `~{n}` (RFC 3516). */
  readonly binary: boolean;
  /** Sum of literal bytes already received for this command. */
  readonly receivedLiteralBytes: number;
}

export type LiteralDecision =
  | { readonly accept: true }
  | { readonly accept: false; readonly code: 'TOOBIG' | 'PARSE'; readonly text: string };

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
  | { readonly type: 'error'; readonly error: ImapParseError };

type State =
  | { kind: 'line' }
  | { kind: 'literal'; buf: Buffer; filled: number; form: AssembledLiteral['form'] }
  | { kind: 'skip-literal'; remaining: number }
  | { kind: 'skip-line' };

const TAG_FORBIDDEN = /[\x00-\x20\x7f(){%*"\\+]/;
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
  private literals: AssembledLiteral[] = [];
  private textBytes = 0;
  private literalBytes = 0;
  /** The current command was refused; discard its remaining lines and non-sync literals. */
  private discarding = false;
  private rawLineRequested = false;

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
   * Call it right after handling the command that needs it.
   */
  readRawLine(): void {
    this.rawLineRequested = true;
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

  private onLine(line: Buffer): ReaderEvent | null {
    if (this.rawLineRequested && this.segments.length === 0 && !this.discarding) {
      this.rawLineRequested = false;
      return { type: 'line', line };
    }
    if (this.discarding) {
      const marker = literalMarkerAtEnd(line);
      if (marker && marker.nonSync && marker.size <= this.maxLiteral) {
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
    const total = this.literalBytes + marker.size;
    if (marker.nonSync) {
      if (marker.size > this.maxNonSync || total > this.maxLiteral) {
        const fatal = marker.size > this.maxLiteral;
        this.resetCommand();
        if (!fatal) {
          this.discarding = true;
          this.state = { kind: 'skip-literal', remaining: marker.size };
        } else {
          this.state = { kind: 'skip-line' };
        }
        const why = this.limitReason ?? `(max ${Math.min(this.maxNonSync, this.maxLiteral)} octets)`;
        return this.error(tag, `Non-synchronizing literal too big ${why}`, 'TOOBIG', fatal);
      }
      this.startLiteral(marker.size, marker.form);
      return null;
    }
    if (total > this.maxLiteral) {
      this.resetCommand();
      return this.error(tag, `Literal too big ${this.limitReason ?? `(max ${this.maxLiteral} octets)`}`, 'TOOBIG', false);
    }
    const decision = this.onLiteral?.({
      tag,
      command,
      size: marker.size,
      binary: marker.form === 'literal8',
      receivedLiteralBytes: this.literalBytes,
    }) ?? { accept: true as const };
    if (!decision.accept) {
      this.resetCommand();
      return this.error(tag, decision.text, decision.code, false);
    }
    this.startLiteral(marker.size, marker.form);
    return { type: 'continue', tag, size: marker.size };
  }

  private startLiteral(size: number, form: AssembledLiteral['form']): void {
    this.literalBytes += size;
    this.state = { kind: 'literal', buf: Buffer.allocUnsafe(size), filled: 0, form };
  }

  private finishCommand(): ReaderEvent {
    const segments = this.segments;
    const literals = this.literals;
    this.resetCommand();
    const first = segments[0];
    const sp = first.indexOf(0x20);
    const tag = first.toString('utf8', 0, sp < 0 ? first.length : sp);
    if (tag.length === 0 || TAG_FORBIDDEN.test(tag)) return this.error(null, 'Invalid tag', 'PARSE', false);
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
    this.literals = [];
    this.textBytes = 0;
    this.literalBytes = 0;
  }

  private currentTag(line?: Buffer): string | null {
    const first = this.segments[0] ?? line;
    if (!first) return null;
    const sp = first.indexOf(0x20);
    if (sp <= 0) return null;
    const tag = first.toString('utf8', 0, sp);
    return TAG_FORBIDDEN.test(tag) ? null : tag;
  }

  private currentName(): string | null {
    const first = this.segments[0];
    if (!first) return null;
    const words = first.toString('latin1').split(' ');
    const name = (words[1] ?? '').toUpperCase();
    if (name === 'UID') return NAME_RE.test(words[2] ?? '') ? words[2].toUpperCase() : null;
    return NAME_RE.test(name) ? name : null;
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
          if (this.partialLen + this.textBytes > this.maxLine + 1) {
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
