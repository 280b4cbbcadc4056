import { LineClient } from './line-client';

/**
 * SMTP over a raw LineClient, for exact reply codes: a reply is every line
 * up to the one whose fourth character is a space (RFC 5321 §4.2.1).
 */
export interface SmtpReplyLines {
  code: number;
  /** The last line, e.g. `250 2.1.5 Accepted`. */
  line: string;
  lines: string[];
}

export async function readReply(c: LineClient, timeoutMs = 10_000): Promise<SmtpReplyLines> {
  const lines = await c.readUntil((l) => /^\d{3}( |$)/.test(l), timeoutMs);
  const line = lines[lines.length - 1]!;
  return { code: Number(line.slice(0, 3)), line, lines };
}

export async function command(c: LineClient, line: string, timeoutMs?: number): Promise<SmtpReplyLines> {
  c.send(line);
  return readReply(c, timeoutMs);
}

/** Connects, reads the 220 greeting and says EHLO; returns the client and the EHLO reply. */
export async function openSession(port: number, helo = 'client.example.net'): Promise<{ c: LineClient; greeting: SmtpReplyLines; ehlo: SmtpReplyLines }> {
  const c = await LineClient.connect(port);
  const greeting = await readReply(c);
  const ehlo = await command(c, `EHLO ${helo}`);
  return { c, greeting, ehlo };
}

/** Sends DATA, then `body` as given (raw octets: the caller writes the terminator), and reads the final reply. */
export async function data(c: LineClient, body: string | Buffer): Promise<{ go: SmtpReplyLines; done: SmtpReplyLines }> {
  const go = await command(c, 'DATA');
  if (go.code !== 354) return { go, done: go };
  c.write(body);
  return { go, done: await readReply(c) };
}

/** A small valid message with a Message-ID, CRLF line ends, and the end-of-data terminator. */
export function message(id: string, body = 'Hello.', extraHeaders = ''): string {
  return `From: <bench-sender@example.net>\r\nTo: <alice@example.com>\r\nSubject: test ${id}\r\nMessage-ID: <${id}@example.net>\r\n${extraHeaders}\r\n${body}\r\n.\r\n`;
}
