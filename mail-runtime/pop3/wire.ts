/**
 * The POP3 wire format and nothing else: how a command line is split, how
 * status lines, SASL continuations and multi-line responses look (RFC 1939
 * §3, RFC 2449 §8, RFC 5034 §4). Nothing here knows about maildrops,
 * states or sockets; lines are read by net/LineSplitter.
 */

/** Extended response codes we send: RFC 2449 §8.1 (IN-USE, LOGIN-DELAY) and RFC 3206 (SYS/TEMP, SYS/PERM, AUTH). */
export type ResponseCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

export interface CommandLine {
  /** Upper-cased keyword (RFC 1939 §3: case-insensitive). */
  keyword: string;
  /** Arguments split on single spaces. */
  args: readonly string[];
  /** Everything after the keyword and its space, as sent (USER, PASS take the rest of the line, RFC 1939 §7). */
  rest: string;
}

/**
 * Splits a command line: a keyword of letters, then arguments separated by
 * single spaces (RFC 1939 §3). An empty argument (two spaces, a trailing
 * space before more text) is a syntax error for every command. Undefined
 * when the line is not a command at all.
 */
export function parseCommandLine(line: string): CommandLine | undefined {
  // RFC 1939 §3 keywords are three or four letters; up to eight pass here so
  // that an unknown keyword is answered as such rather than as bad syntax.
  const m = /^([A-Za-z]{1,8})(?: (.*))?$/.exec(line);
  if (!m) return undefined;
  const rest = m[2] ?? '';
  const args = rest === '' ? [] : rest.split(' ');
  if (args.some((a) => a === '')) return undefined;
  return { keyword: m[1].toUpperCase(), args, rest };
}

export function okLine(text: string): string {
  return text ? `+OK ${text}` : '+OK';
}

export function errLine(text: string, code?: ResponseCode): string {
  return code ? `-ERR [${code}] ${text}` : `-ERR ${text}`;
}

/** A SASL challenge (RFC 5034 §4): "+", a space, the base64 challenge (empty for PLAIN). */
export function continuationLine(base64: string): string {
  return `+ ${base64}`;
}

/**
 * The body of a multi-line response (RFC 1939 §3): each line byte-stuffed
 * (a leading "." gets another), then the terminating ".".
 */
export function* multiLine(lines: Iterable<string>): Generator<string> {
  for (const l of lines) yield l.startsWith('.') ? `.${l}` : l;
  yield '.';
}

/**
 * A message as lines for RETR (all of it) or TOP (RFC 1939 §7: the header,
 * the blank line and `bodyLines` lines of the body). Decoded as latin1 so
 * the bytes go back out unchanged; CRLF and bare LF both end a line.
 */
export function* messageLines(message: Buffer, bodyLines = Infinity): Generator<string> {
  const lines = message.toString('latin1').split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let inBody = false;
  let count = 0;
  for (const l of lines) {
    if (inBody) {
      if (count >= bodyLines) return;
      count++;
    } else if (l === '') inBody = true;
    yield l;
  }
}
