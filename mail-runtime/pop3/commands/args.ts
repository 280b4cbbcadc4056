import type { CommandLine } from '../wire';
import type { ParseResult } from './types';

export function accept<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function reject<T = never>(error: string): ParseResult<T> {
  return { ok: false, error };
}

/** For commands without arguments. */
export function noArgs(line: CommandLine): ParseResult<undefined> {
  return line.args.length ? reject('No arguments expected') : accept(undefined);
}

/** A message number (RFC 1939 §5): 1-based decimal, at most 10 digits so it stays a safe integer. */
export function messageNumber(arg: string): ParseResult<number> {
  return /^[1-9][0-9]{0,9}$/.test(arg) ? accept(Number(arg)) : reject('Invalid message number');
}

/** LIST and UIDL (RFC 1939 §5, §7): an optional message number. */
export function optionalMessageNumber(line: CommandLine): ParseResult<number | undefined> {
  if (line.args.length > 1) return reject('Too many arguments');
  return line.args.length ? messageNumber(line.args[0]) : accept(undefined);
}

/** RETR and DELE: exactly one message number; `usage` is the error for any other count. */
export function oneMessageNumber(usage: string): (line: CommandLine) => ParseResult<number> {
  return (line) => (line.args.length === 1 ? messageNumber(line.args[0]) : reject(usage));
}
