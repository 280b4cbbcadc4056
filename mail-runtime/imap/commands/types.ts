import type { Authenticator, DirectoryUser, Identity } from '../../auth';
import type { Logger } from '../../common/log';
import type { PlaintextAuthPolicy, TlsMaterial } from '../../net';
import type { UserMailbox } from '../../store';
import type { ImapCommand, ImapResponse, ImapValue, ParseResult, ResponseCode } from '../protocol';
import type { MailboxView } from './view';

/** RFC 3501 §3 connection states. */
export type SessionState = 'NOT_AUTHENTICATED' | 'AUTHENTICATED' | 'SELECTED' | 'LOGOUT';

export const ANY_STATE: readonly SessionState[] = ['NOT_AUTHENTICATED', 'AUTHENTICATED', 'SELECTED'];
export const NOT_AUTH: readonly SessionState[] = ['NOT_AUTHENTICATED'];
export const AUTH_OR_SELECTED: readonly SessionState[] = ['AUTHENTICATED', 'SELECTED'];
export const SELECTED: readonly SessionState[] = ['SELECTED'];

/** What a handler answers; the dispatcher turns it into the tagged reply. */
export interface CommandResult {
  status: 'OK' | 'NO' | 'BAD';
  code?: ResponseCode;
  text: string;
  /** Runs after the tagged reply is written (STARTTLS upgrade, LOGOUT close). */
  after?: () => Promise<void> | void;
}

/** Opens a user's mailbox for a session; the node implements it over the store (with ownership epochs). */
export interface MailboxProvider {
  open(user: DirectoryUser): Promise<{ mailbox: UserMailbox; release: () => Promise<void> }>;
  /**
   * Another user's mailbox, for her shared folders (RFC 4314): `unknown`
   * when the directory has no such user, `elsewhere` when this node does
   * not serve it now (one node serves a mailbox, DESIGN.md: it is never
   * opened here then). Absent: no shared folders.
   */
  openOther?(address: string): Promise<{ mailbox: UserMailbox; release: () => Promise<void> } | 'unknown' | 'elsewhere'>;
  /**
   * Users of `address`'s domain (at most `max` looked at) whose mailboxes
   * this node serves now and whose ACLs name `address` or `anyone`: whose
   * folders may show in `Other Users`.
   */
  sharingWith?(address: string, max: number): Promise<string[]>;
  /**
   * Whether `address` administers her domain's `Shared/` tree (every right
   * on every folder there, and the only one who creates its top-level
   * folders). Absent: nobody does.
   */
  sharedAdmin?(address: string): boolean;
  /** What an ACL identifier names in the directory (auth Identity). Absent: identifiers are taken as written. */
  identify?(address: string): Promise<Identity>;
}

/** Everything a session needs from the server; shared by all sessions of a listener. */
export interface ImapServices {
  auth: Authenticator;
  mailboxes: MailboxProvider;
  tls?: TlsMaterial;
  plaintextAuth: PlaintextAuthPolicy;
  hostname: string;
  log: Logger;
  /** Reported by ID (RFC 2971). */
  version: string;
  /** Config `limits` (mail-runtime/config/schema.ts decides their defaults). */
  limits: ImapLimits;
}

export interface ImapLimits {
  /** Largest APPEND message; above it `NO [TOOBIG]` (RFC 4469 §4). */
  maxMessageBytes: number;
  /** Largest literal (and sum of literals per command) after login. */
  imapLiteralBytes: number;
  /** Messages in one MULTIAPPEND (RFC 3502); one more gets `NO [LIMIT]` (RFC 5530). */
  imapAppendMessages: number;
}

/**
 * The session as command handlers see it. Handlers know nothing about bytes
 * on the socket: they send typed responses and return a result.
 */
export interface SessionContext {
  readonly id: string;
  readonly state: SessionState;
  readonly secure: boolean;
  readonly remoteIp: string;
  readonly services: ImapServices;
  readonly log: Logger;
  readonly user: DirectoryUser | undefined;
  readonly mailbox: UserMailbox | undefined;
  readonly selected: MailboxView | undefined;
  /** RFC 5161 extensions enabled in this session (CONDSTORE, ...). */
  readonly enabled: Set<string>;
  /** Untagged data or a continuation request. */
  send(response: ImapResponse): void;
  /** Several responses in order, written to the socket at once (bodies not copied). */
  sendAll(responses: readonly ImapResponse[]): void;
  /** Resolves once the socket has room again (call between big FETCH items). */
  drain(): Promise<void>;
  capabilities(): string[];
  plaintextAuthAllowed(): boolean;
  /**
   * Reads the client's next line raw (AUTHENTICATE responses, IDLE's DONE);
   * null if the connection closed, `too-long` if the line was longer than
   * `maxBytes` (default: the command line cap) — it was skipped, and the
   * next line is read as a command again.
   */
  readLine(maxBytes?: number): Promise<Buffer | 'too-long' | null>;
  /**
   * Another user's mailbox (shared folders), opened once per session and
   * released with it: `unknown` / `elsewhere` as MailboxProvider.openOther.
   */
  otherMailbox(address: string): Promise<UserMailbox | 'unknown' | 'elsewhere'>;
  /** Finishes a successful login: opens the mailbox, moves to AUTHENTICATED. */
  loggedIn(user: DirectoryUser): Promise<void>;
  /** Makes `view` the selected mailbox (closing any previous one). */
  select(view: MailboxView): void;
  /** Back to AUTHENTICATED, closing the selected mailbox. */
  unselect(): Promise<void>;
  /** Replaces the connection with a TLS one (after the tagged OK was written). */
  startTls(): Promise<void>;
  /** Sends nothing more and closes (after LOGOUT's tagged OK). */
  close(): void;
  /** The selected folder changed (a MailboxView calls this). */
  mailboxChanged(): void;
  /**
   * Untagged updates for the selected mailbox (the dispatcher calls it
   * before each tagged reply), sent a slice at a time and in order across
   * calls; false if the session ended.
   */
  flushNotifications(allowExpunge: boolean): Promise<boolean>;
  /** Bad-command accounting (BYE after LIMITS.imapBadCommandsBeforeBye in a row). */
  countBad(): void;
  resetBad(): void;
  /** While set, mailbox changes are pushed at once (IDLE, RFC 2177). */
  setIdle(on: boolean): void;
}

/** What argument parsing needs to know about the session. */
export interface ParseOptions {
  /**
   * Mailbox names are UTF-8 (RFC 9051 §5.1, after ENABLE IMAP4rev2), not
   * modified UTF-7 (RFC 3501 §5.1.3, RFC 9051 Appendix A.1).
   */
  readonly utf8Names: boolean;
}

/** The session's ParseOptions (also what handlers use to write names back). */
export function parseOptions(ctx: Pick<SessionContext, 'enabled'>): ParseOptions {
  return { utf8Names: ctx.enabled.has('IMAP4rev2') };
}

/**
 * One IMAP command: the states it is valid in, its argument check and its
 * handler. The dispatcher checks state and arguments before the handler runs.
 */
export interface CommandSpec<A = unknown> {
  /** Name as registered, e.g. `FETCH` or `UID FETCH`. */
  readonly name: string;
  readonly states: readonly SessionState[];
  /** Checks and converts the arguments; an error becomes `BAD <text>`. */
  parse(args: readonly ImapValue[], cmd: ImapCommand, opts: ParseOptions): ParseResult<A>;
  handle(ctx: SessionContext, args: A, cmd: ImapCommand): Promise<CommandResult>;
  /**
   * RFC 3501 §7.4.1: no EXPUNGE responses while answering FETCH, STORE or
   * SEARCH (the client could not map sequence numbers). UID variants may.
   */
  readonly holdExpunges?: boolean;
  /**
   * No mailbox updates before the tagged reply: LOGOUT, whose BYE must be
   * the last untagged response (RFC 3501 §6.1.3, §7.1.5).
   */
  readonly noUpdates?: boolean;
}

export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

export const okResult = (text: string, code?: ResponseCode): CommandResult => (code ? { status: 'OK', code, text } : { status: 'OK', text });
export const noResult = (text: string, code?: ResponseCode): CommandResult => (code ? { status: 'NO', code, text } : { status: 'NO', text });
export const badResult = (text: string): CommandResult => ({ status: 'BAD', text });
