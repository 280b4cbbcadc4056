import { LineClient } from './line-client';

/**
 * Raw IMAP helpers over LineClient: connect + greeting, login, APPEND with
 * a synchronising literal, and a normaliser for values that differ per run
 * (UIDVALIDITY is time-based, INTERNALDATE is "now").
 */
export async function imapConnect(port: number, opts: { tls?: boolean } = {}): Promise<{ c: LineClient; greeting: string }> {
  const c = await LineClient.connect(port, opts);
  const greeting = await c.readLine();
  return { c, greeting };
}

export async function imapLogin(port: number, user: string, password: string): Promise<LineClient> {
  const { c } = await imapConnect(port);
  const res = await c.command('L', `LOGIN ${quote(user)} ${quote(password)}`);
  if (!res[res.length - 1].startsWith('L OK')) throw new Error(`login failed: ${res.join(' / ')}`);
  return c;
}

/** One LOGIN on a fresh connection, closed afterwards: the tagged reply (success or not), each read bounded by `timeoutMs`. */
export async function imapLoginReply(port: number, user: string, password: string, timeoutMs?: number): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    await c.readLine(timeoutMs);
    const lines = await c.command('L', `LOGIN ${quote(user)} ${quote(password)}`, timeoutMs);
    return lines[lines.length - 1]!;
  } finally {
    c.close();
  }
}

export function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (m) => `\\${m}`)}"`;
}

/** APPEND with a synchronising literal; returns every line up to the tagged reply. */
export async function imapAppend(c: LineClient, tag: string, mailbox: string, message: string | Buffer, extra = ''): Promise<string[]> {
  const bytes = typeof message === 'string' ? Buffer.from(message) : message;
  c.send(`${tag} APPEND ${mailbox}${extra ? ` ${extra}` : ''} {${bytes.length}}`);
  const first = await c.readLine();
  if (!first.startsWith('+')) return [first];
  c.write(bytes);
  c.write('\r\n');
  return [first, ...(await c.readUntil((l) => l.startsWith(`${tag} `)))];
}

/** Replaces per-run values so replies can be compared exactly. */
export function norm(lines: string[]): string[] {
  return lines.map((l) =>
    l
      .replace(/UIDVALIDITY \d+/g, 'UIDVALIDITY <v>')
      .replace(/APPENDUID \d+/g, 'APPENDUID <v>')
      .replace(/COPYUID \d+/g, 'COPYUID <v>')
      .replace(/MAILBOXID \([A-Za-z0-9_-]+\)/g, 'MAILBOXID <id>')
      .replace(/INTERNALDATE "[^"]+"/g, 'INTERNALDATE <d>'),
  );
}

export function message(subject: string, body = 'hello\r\n', from = 'Sender <sender@example.org>'): string {
  return `From: ${from}\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${body}`;
}

/**
 * Literal cap for tests that only parse with a CommandReader (a session gets
 * its cap from config `limits.imapLiteralBytes`).
 */
export const TEST_LITERAL_BYTES = 64 * 1024 * 1024;
