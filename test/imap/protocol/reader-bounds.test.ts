/**
 * Caps by argument kind, the raw-line cap and tag syntax in the command
 * reader (issue 9). Each row is a command and what the reader must make of
 * it, grouped by the RFC that decides.
 *
 * - Literals: only APPEND's message (RFC 3501 §6.3.11) may be as big as the
 *   state's cap; a mailbox name is capped at LIMITS.imapMailboxNameBytes,
 *   any other string at LIMITS.imapStringBytes. A `{n+}` literal over its
 *   cap is dropped when small (RFC 7888 §4, first choice) and fatal, never
 *   read, when big (second choice).
 * - Raw lines (RFC 3501 §6.2.2 AUTHENTICATE responses): over the cap they
 *   are skipped to their end and the next line is a command again.
 * - Tags (RFC 3501 §9): 7-bit ASTRING-CHAR except "+"; anything else is
 *   refused untagged.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../mail-runtime/common/limits';
import { CommandReader, type ReaderEvent } from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

const POST = { maxLiteralBytes: TEST_LITERAL_BYTES, maxNonSyncLiteralBytes: TEST_LITERAL_BYTES };
const NAME = LIMITS.imapMailboxNameBytes;
const STRING = LIMITS.imapStringBytes;

function reader(): CommandReader {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.setLiteralLimits(POST);
  return r;
}

function brief(e: ReaderEvent | null): unknown {
  if (!e) return null;
  switch (e.type) {
    case 'command':
      return { cmd: `${e.command.tag} ${e.command.name}`, args: e.command.args.map((a) => (a.type === 'string' ? a.bytes.length : a.type)) };
    case 'continue':
      return { continue: e.size };
    case 'line':
      return { line: e.line.toString('latin1') };
    case 'line-too-long':
      return 'line-too-long';
    case 'error':
      return { error: e.error.code, tag: e.error.tag, fatal: e.error.fatal, text: e.error.text };
  }
}

describe('literal caps by argument kind (RFC 3501 §9, RFC 7888 §4)', () => {
  const rows: Array<[string, string, unknown]> = [
    ['a mailbox name at its cap gets a continuation', `a SELECT {${NAME}}`, { continue: NAME }],
    ['a mailbox name over it is refused before it is sent', `a SELECT {${NAME + 1}}`, { error: 'TOOBIG', tag: 'a', fatal: false, text: `Mailbox name literal too big (max ${NAME} octets)` }],
    ['LIST patterns are names', `a LIST "" {${NAME + 1}}`, { error: 'TOOBIG', tag: 'a', fatal: false, text: `Mailbox name literal too big (max ${NAME} octets)` }],
    ['COPY targets are names', `a UID COPY 1:* {${NAME + 1}}`, { error: 'TOOBIG', tag: 'a', fatal: false, text: `Mailbox name literal too big (max ${NAME} octets)` }],
    ['APPEND: the mailbox as first argument is a name', `a APPEND {${NAME + 1}}`, { error: 'TOOBIG', tag: 'a', fatal: false, text: `Mailbox name literal too big (max ${NAME} octets)` }],
    ['APPEND: the message may be big', 'a APPEND INBOX (\\Seen) {10000000}', { continue: 10_000_000 }],
    ['a search string at its cap', `a SEARCH TEXT {${STRING}}`, { continue: STRING }],
    ['a search string over it', `a SEARCH TEXT {${STRING + 1}}`, { error: 'TOOBIG', tag: 'a', fatal: false, text: `Literal too big (max ${STRING} octets)` }],
    ['an unknown command gets the string cap', `a XFOO {${STRING + 1}}`, { error: 'TOOBIG', tag: 'a', fatal: false, text: `Literal too big (max ${STRING} octets)` }],
    [
      'SELECT {60000000+}: fatal at once, none of it is read',
      'a SELECT {60000000+}',
      { error: 'TOOBIG', tag: 'a', fatal: true, text: `Mailbox name literal too big (max ${NAME} octets)` },
    ],
  ];
  it.each(rows)('%s', (_, line, expected) => {
    const r = reader();
    r.push(Buffer.from(`${line}\r\n`));
    expect(brief(r.next())).toEqual(expected);
    expect(r.bufferedBytes).toBe(0);
  });

  it('APPEND with the mailbox as a literal: the name is capped, the message after it is not', () => {
    const r = reader();
    r.push(Buffer.from('a APPEND {5}\r\n'));
    expect(brief(r.next())).toEqual({ continue: 5 });
    r.push(Buffer.from('INBOX {100000}\r\n'));
    expect(brief(r.next())).toEqual({ continue: 100_000 });
    r.push(Buffer.concat([Buffer.alloc(100_000, 0x61), Buffer.from('\r\n')]));
    expect(brief(r.next())).toEqual({ cmd: 'a APPEND', args: [5, 100_000] });
  });

  it('a small {n+} name over its cap is read and dropped; the command is refused and the next one runs', () => {
    const r = reader();
    r.push(Buffer.concat([Buffer.from(`a SELECT {${NAME + 1}+}\r\n`), Buffer.alloc(NAME + 1, 0x61), Buffer.from('\r\nb NOOP\r\n')]));
    expect(brief(r.next())).toEqual({ error: 'TOOBIG', tag: 'a', fatal: false, text: `Mailbox name literal too big (max ${NAME} octets)` });
    expect(brief(r.next())).toEqual({ cmd: 'b NOOP', args: [] });
  });

  it('a {n+} string above LIMITS.imapDiscardLiteralBytes is fatal and never read', () => {
    const r = reader();
    r.push(Buffer.from(`a SEARCH TEXT {${LIMITS.imapDiscardLiteralBytes + 1}+}\r\n`));
    expect(brief(r.next())).toMatchObject({ error: 'TOOBIG', fatal: true });
    for (let i = 0; i < 4; i++) r.push(Buffer.alloc(64 * 1024, 0x78));
    expect(r.next()).toBeNull();
    expect(r.bufferedBytes).toBe(0);
  });

  it('strings count towards the command line: a command without a message stays within imapLineBytes', () => {
    const r = reader();
    const lit = Buffer.alloc(STRING, 0x61);
    const parts: Buffer[] = [Buffer.from(`a SEARCH TEXT {${STRING}+}\r\n`), lit];
    for (let i = 0; i < LIMITS.imapLineBytes / STRING; i++) parts.push(Buffer.from(` TEXT {${STRING}+}\r\n`), lit);
    parts.push(Buffer.from('\r\nb NOOP\r\n'));
    r.push(Buffer.concat(parts));
    expect(brief(r.next())).toEqual({ error: 'TOOBIG', tag: 'a', fatal: false, text: `Non-synchronizing literal too big (max ${LIMITS.imapLineBytes} octets for a command without a message)` });
    expect(brief(r.next())).toEqual({ cmd: 'b NOOP', args: [] });
  });
});

describe('raw lines (RFC 3501 §6.2.2 AUTHENTICATE responses)', () => {
  it('a raw line within its cap is returned as it is', () => {
    const r = reader();
    r.readRawLine(16);
    r.push(Buffer.from('0123456789abcdef\r\nb NOOP\r\n'));
    expect(brief(r.next())).toEqual({ line: '0123456789abcdef' });
    expect(brief(r.next())).toEqual({ cmd: 'b NOOP', args: [] });
  });

  it('one byte over the cap, in one piece: line-too-long, and the next line is a command', () => {
    const r = reader();
    r.readRawLine(16);
    r.push(Buffer.from('0123456789abcdefX\r\nb NOOP\r\n'));
    expect(brief(r.next())).toBe('line-too-long');
    expect(brief(r.next())).toEqual({ cmd: 'b NOOP', args: [] });
  });

  it('20 MB streamed in pieces: line-too-long once, nothing kept, the command after it is read in sync', () => {
    const r = reader();
    r.readRawLine(LIMITS.imapSaslLineBytes);
    const events: unknown[] = [];
    const piece = Buffer.alloc(256 * 1024, 0x41);
    for (let sent = 0; sent < 20 * 1024 * 1024; sent += piece.length) {
      r.push(piece);
      for (let e = r.next(); e; e = r.next()) events.push(brief(e));
      expect(r.bufferedBytes).toBeLessThanOrEqual(LIMITS.imapSaslLineBytes + piece.length);
    }
    r.push(Buffer.from('\r\nb NOOP\r\n'));
    for (let e = r.next(); e; e = r.next()) events.push(brief(e));
    expect(events).toEqual(['line-too-long', { cmd: 'b NOOP', args: [] }]);
  });
});

describe('tags (RFC 3501 §9 tag = 1*<any ASTRING-CHAR except "+">)', () => {
  const rows: Array<[string, Buffer, unknown]> = [
    ['an 8-bit byte', Buffer.from([0xe9, 0x74, 0x20, 0x4e, 0x4f, 0x4f, 0x50, 0x0d, 0x0a]), { error: 'PARSE', tag: null, fatal: false, text: 'Invalid tag' }],
    ['UTF-8', Buffer.from('tä NOOP\r\n'), { error: 'PARSE', tag: null, fatal: false, text: 'Invalid tag' }],
    ['a control byte', Buffer.from('t\x01 NOOP\r\n'), { error: 'PARSE', tag: null, fatal: false, text: 'Invalid tag' }],
    ['"+"', Buffer.from('t+1 NOOP\r\n'), { error: 'PARSE', tag: null, fatal: false, text: 'Invalid tag' }],
    ['"*"', Buffer.from('* NOOP\r\n'), { error: 'PARSE', tag: null, fatal: false, text: 'Invalid tag' }],
    ['"]" is an ASTRING-CHAR', Buffer.from('a]1 NOOP\r\n'), { cmd: 'a]1 NOOP', args: [] }],
    ['"}" and "~" are ATOM-CHARs', Buffer.from('}~!#$&\'-.:;<=>?@[^_`| NOOP\r\n'), { cmd: '}~!#$&\'-.:;<=>?@[^_`| NOOP', args: [] }],
  ];
  it.each(rows)('%s', (_, bytes, expected) => {
    const r = reader();
    r.push(bytes);
    expect(brief(r.next())).toEqual(expected);
  });

  it('a refused literal of a command with an 8-bit tag is answered untagged', () => {
    const r = reader();
    r.push(Buffer.concat([Buffer.from([0xff]), Buffer.from(` SELECT {${NAME + 1}}\r\n`)]));
    expect(brief(r.next())).toMatchObject({ error: 'TOOBIG', tag: null });
  });
});
