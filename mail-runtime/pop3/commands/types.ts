import type { Authenticator, DirectoryUser } from '../../auth';
import type { Logger } from '../../common/log';
import type { PlaintextAuthPolicy, TlsMaterial } from '../../net';
import type { Pop3Backend } from '../maildrop';
import type { Transaction } from '../transaction';
import type { CommandLine, ResponseCode } from '../wire';

/**
 * RFC 1939 §3 session states. UPDATE is entered by QUIT from TRANSACTION
 * (§6) and no command is valid in it.
 */
export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

export const AUTHORIZATION: readonly Pop3State[] = ['AUTHORIZATION'];
export const TRANSACTION: readonly Pop3State[] = ['TRANSACTION'];
export const AUTHORIZATION_OR_TRANSACTION: readonly Pop3State[] = ['AUTHORIZATION', 'TRANSACTION'];

/** A multi-line response body (RFC 1939 §3); the wire layer byte-stuffs and terminates it. */
export type MultiLineBody =
  | { kind: 'lines'; lines: readonly string[] }
  /** A message (RETR) or its top (TOP, `bodyLines` body lines). */
  | { kind: 'message'; message: Buffer; bodyLines: number };

/** What happens once the reply is on the wire. */
export type AfterReply = 'close' | 'starttls';

/**
 * What a handler answers; the dispatcher writes it. `+OK` resets the
 * bad-command count. Both refusals are `-ERR` on the wire: `BAD` is the
 * client's mistake and counts towards the limit, `ERR` is the server's
 * condition (maildrop in use, temporary failure) and does not.
 */
export type CommandResult =
  | { status: 'OK'; text: string; body?: MultiLineBody; then?: AfterReply }
  | { status: 'ERR' | 'BAD'; code?: ResponseCode; text: string; then?: AfterReply };

/** What every session of a listener shares. */
export interface Pop3Services {
  auth: Authenticator;
  backend: Pop3Backend;
  /** STLS is offered when set and the connection is not yet secure. */
  tls?: TlsMaterial;
  plaintextAuth: PlaintextAuthPolicy;
  hostname: string;
}

/** A line the client sent while a handler waited for one (a SASL response). */
export type ClientLine = { kind: 'line'; text: string } | { kind: 'overflow' };

/**
 * The session as command handlers see it. Handlers know nothing about bytes
 * on the socket: they read state, change it through these methods and
 * return a CommandResult.
 */
export interface CommandContext {
  /** The connection's id (log lines; failed logins are counted per connection). */
  readonly id: string;
  readonly state: Pop3State;
  readonly secure: boolean;
  readonly remoteIp: string;
  readonly services: Pop3Services;
  readonly log: Logger;
  /** True once the connection has ended (checked after every await). */
  readonly closed: boolean;
  /** The maildrop; set exactly in TRANSACTION. */
  readonly transaction: Transaction | undefined;
  /** The name from USER, waiting for PASS (RFC 1939 §7). */
  pendingUser: string | undefined;
  /** RFC 2595 §4 / RFC 8314: may credentials be sent on this connection? */
  plaintextAuthAllowed(): boolean;
  /** Sends a SASL challenge (RFC 5034 §4) and returns the client's response; undefined when the connection closed. */
  challenge(base64: string): Promise<ClientLine | undefined>;
  /** Authenticated: TRANSACTION on this maildrop. False (and the maildrop closed) when the connection ended meanwhile. */
  enterTransaction(user: DirectoryUser, transaction: Transaction): Promise<boolean>;
  /** QUIT in TRANSACTION (RFC 1939 §6): UPDATE. The caller now owns the transaction and must close it. */
  enterUpdate(): Transaction;
}

/** What the dispatcher needs on top: writing the reply, bad-command accounting, what follows a reply. */
export interface GateContext extends CommandContext {
  reply(result: CommandResult): Promise<void>;
  /** Counts a bad command; too many in a row (LIMITS) → `-ERR` and close. */
  countBad(): void;
  resetBad(): void;
  close(): void;
  startTls(): Promise<void>;
}

export type ParseResult<A> = { ok: true; value: A } | { ok: false; error: string };

/**
 * One POP3 command: the states it is valid in, its argument check and its
 * handler. The dispatcher checks state and arguments before the handler
 * runs; an argument error becomes `-ERR <error>` and counts as bad.
 */
export interface CommandSpec<A = unknown> {
  readonly name: string;
  readonly states: readonly Pop3State[];
  parse(line: CommandLine): ParseResult<A>;
  handle(ctx: CommandContext, args: A): Promise<CommandResult>;
}

export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

export const ok = (text: string, more: { body?: MultiLineBody; then?: AfterReply } = {}): CommandResult => ({ status: 'OK', text, ...more });
/** The client's mistake: `-ERR`, counted towards the bad-command limit. */
export const bad = (text: string, code?: ResponseCode): CommandResult => (code ? { status: 'BAD', code, text } : { status: 'BAD', text });
/** The server's condition: `-ERR`, not counted. */
export const err = (text: string, code?: ResponseCode): CommandResult => (code ? { status: 'ERR', code, text } : { status: 'ERR', text });

/** The maildrop of a TRANSACTION-state command (the gate checked the state, so its absence is a bug). */
export function transactionOf(ctx: CommandContext): Transaction {
  if (!ctx.transaction) throw new Error(`no maildrop in state ${ctx.state}`);
  return ctx.transaction;
}
