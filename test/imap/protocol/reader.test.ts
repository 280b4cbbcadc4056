import { describe, expect, it } from 'vitest';
import { CommandReader, type ImapValue, type ReaderEvent } from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

/** Compact, comparable form of a value. */
function show(v: ImapValue): unknown {
  switch (v.type) {
    case 'atom':
      return v.section ? { atom: v.value, section: v.section.map(show), ...(v.partial ? { partial: v.partial } : {}) } : v.value;
    case 'number':
      return v.value;
    case 'string':
      return { [v.form]: v.bytes.toString('latin1') };
    case 'nil':
      return null;
    case 'list':
      return v.items.map(show);
  }
}

function showEvent(e: ReaderEvent): unknown {
  switch (e.type) {
    case 'command':
      return { cmd: `${e.command.tag} ${e.command.uid ? 'UID ' : ''}${e.command.name}`, args: e.command.args.map(show) };
    case 'continue':
      return { continue: e.size };
    case 'line':
      return { line: e.line.toString('latin1') };
    case 'error':
      return { error: e.error.code, tag: e.error.tag, fatal: e.error.fatal };
  }
}

function run(input: string | Buffer, opts: Partial<ConstructorParameters<typeof CommandReader>[0]> = {}): unknown[] {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES, ...opts });
  r.push(typeof input === 'string' ? Buffer.from(input, 'latin1') : input);
  return r.drain().map(showEvent);
}

// RFC 3501 §9 grammar, one row per shape: input bytes → events.
const TABLE: Array<[string, string, unknown[]]> = [
  ['atom args', 'a1 NOOP\r\n', [{ cmd: 'a1 NOOP', args: [] }]],
  ['lower-case name', 'a1 noop\r\n', [{ cmd: 'a1 NOOP', args: [] }]],
  ['lone LF accepted', 'a1 NOOP\n', [{ cmd: 'a1 NOOP', args: [] }]],
  ['empty line ignored', '\r\na1 NOOP\r\n', [{ cmd: 'a1 NOOP', args: [] }]],
  ['quoted with escapes', 'a LOGIN "u\\"s" "p\\\\w"\r\n', [{ cmd: 'a LOGIN', args: [{ quoted: 'u"s' }, { quoted: 'p\\w' }] }]],
  ['empty quoted', 'a X ""\r\n', [{ cmd: 'a X', args: [{ quoted: '' }] }]],
  ['NIL and numbers', 'a X NIL nil 42 007\r\n', [{ cmd: 'a X', args: [null, null, 42, 7] }]],
  ['nested lists', 'a X (a (b c) ()) d\r\n', [{ cmd: 'a X', args: [['a', ['b', 'c'], []], 'd'] }]],
  ['flags', 'a STORE 1 +FLAGS (\\Seen $Junk)\r\n', [{ cmd: 'a STORE', args: [1, '+FLAGS', ['\\Seen', '$Junk']] }]],
  ['UID prefix', 'a uid fetch 1:* FLAGS\r\n', [{ cmd: 'a UID FETCH', args: ['1:*', 'FLAGS'] }]],
  [
    'section with field list and partial',
    'a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From "To")]<0.100>)\r\n',
    [
      {
        cmd: 'a FETCH',
        args: [1, [{ atom: 'BODY.PEEK', section: ['HEADER.FIELDS', ['From', { quoted: 'To' }]], partial: { offset: 0, length: 100 } }]],
      },
    ],
  ],
  ['empty section', 'a FETCH 1 BODY[]<5>\r\n', [{ cmd: 'a FETCH', args: [1, { atom: 'BODY', section: [], partial: { offset: 5 } }] }]],
  ['brackets in astring are plain', 'a SELECT [Gmail]/Sent\r\n', [{ cmd: 'a SELECT', args: ['[Gmail]/Sent'] }]],
  ['list wildcards', 'a LIST "" %/*\r\n', [{ cmd: 'a LIST', args: [{ quoted: '' }, '%/*'] }]],
  ['literal', 'a LOGIN {4}\r\nuser pw\r\n', [{ continue: 4 }, { cmd: 'a LOGIN', args: [{ literal: 'user' }, 'pw'] }]],
  ['literal with CRLF inside', 'a X {4}\r\n\r\n\r\n\r\n', [{ continue: 4 }, { cmd: 'a X', args: [{ literal: '\r\n\r\n' }] }]],
  ['non-sync literal', 'a LOGIN {4+}\r\nuser {2+}\r\npw\r\n', [{ cmd: 'a LOGIN', args: [{ literal: 'user' }, { literal: 'pw' }] }]],
  ['literal8', 'a APPEND x ~{3}\r\nabc\r\n', [{ continue: 3 }, { cmd: 'a APPEND', args: ['x', { literal8: 'abc' }] }]],
  ['literal in a list', 'a X ({1+}\r\nq)\r\n', [{ cmd: 'a X', args: [[{ literal: 'q' }]] }]],
  ['bad tag', '"x NOOP\r\n', [{ error: 'PARSE', tag: null, fatal: false }]],
  ['plus tag', '+ NOOP\r\n', [{ error: 'PARSE', tag: null, fatal: false }]],
  ['missing command', 'a1\r\n', [{ error: 'PARSE', tag: 'a1', fatal: false }]],
  ['unbalanced paren', 'a X (b\r\na NOOP\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }, { cmd: 'a NOOP', args: [] }]],
  ['stray close paren', 'a X b)\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
  ['bad escape', 'a X "\\n"\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
  ['unterminated quote', 'a X "abc\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
  ['CR inside line', 'a X b\rc\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
  ['literal marker mid-line', 'a X {3} y\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
  ['UID alone', 'a UID\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
  ['junk after value', 'a X "a"b\r\n', [{ error: 'PARSE', tag: 'a', fatal: false }]],
];

describe('CommandReader: RFC 3501 §9 command syntax', () => {
  for (const [name, input, expected] of TABLE) {
    it(name, () => {
      expect(run(input)).toEqual(expected);
    });
  }
});

describe('CommandReader: literals and limits (RFC 3501 §7.5, RFC 7888)', () => {
  it('waits for the whole literal across chunks', () => {
    const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
    r.push(Buffer.from('a APPEND INBOX {10}\r\n'));
    expect(r.drain().map(showEvent)).toEqual([{ continue: 10 }]);
    expect(r.inCommand).toBe(true);
    r.push(Buffer.from('01234'));
    expect(r.drain()).toEqual([]);
    r.push(Buffer.from('56789\r'));
    expect(r.drain()).toEqual([]);
    r.push(Buffer.from('\n'));
    expect(r.drain().map(showEvent)).toEqual([{ cmd: 'a APPEND', args: ['INBOX', { literal: '0123456789' }] }]);
  });

  it('refuses a synchronising literal over the cap with TOOBIG and reads on', () => {
    expect(run('a APPEND INBOX {101}\r\nb NOOP\r\n', { maxLiteralBytes: 100 })).toEqual([
      { error: 'TOOBIG', tag: 'a', fatal: false },
      { cmd: 'b NOOP', args: [] },
    ]);
  });

  it('lets the session refuse a literal (no continuation is sent)', () => {
    const seen: unknown[] = [];
    const events = run('a APPEND INBOX {50}\r\nb NOOP\r\n', {
      onLiteral: (req) => {
        seen.push([req.tag, req.command, req.size]);
        return { accept: false, code: 'TOOBIG', text: 'Over quota' };
      },
    });
    expect(seen).toEqual([['a', 'APPEND', 50]]);
    expect(events).toEqual([{ error: 'TOOBIG', tag: 'a', fatal: false }, { cmd: 'b NOOP', args: [] }]);
  });

  it('discards an oversized non-synchronising literal and resyncs', () => {
    const body = 'x'.repeat(20);
    expect(run(`a APPEND INBOX {20+}\r\n${body} {2+}\r\nzz\r\nb NOOP\r\n`, { maxNonSyncLiteralBytes: 10 })).toEqual([
      { error: 'TOOBIG', tag: 'a', fatal: false },
      { cmd: 'b NOOP', args: [] },
    ]);
  });

  it('gives a fatal error for a non-synchronising literal above the literal cap', () => {
    expect(run('a APPEND INBOX {999999999+}\r\n', { maxNonSyncLiteralBytes: 10, maxLiteralBytes: 1000 })).toEqual([
      { error: 'TOOBIG', tag: 'a', fatal: true },
    ]);
  });

  it('caps the sum of literals of one command', () => {
    expect(run('a X {6+}\r\nabcdef {6}\r\nb NOOP\r\n', { maxLiteralBytes: 10 })).toEqual([
      { error: 'TOOBIG', tag: 'a', fatal: false },
      { cmd: 'b NOOP', args: [] },
    ]);
  });

  it('rejects an over-long line and resyncs at the next line', () => {
    const long = `a X ${'y'.repeat(200)}\r\nb NOOP\r\n`;
    expect(run(long, { maxLineBytes: 100 })).toEqual([{ error: 'LINE', tag: 'a', fatal: false }, { cmd: 'b NOOP', args: [] }]);
  });

  it('rejects an over-long line that arrives in small chunks without buffering it all', () => {
    const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES, maxLineBytes: 100 });
    const events: ReaderEvent[] = [];
    for (let i = 0; i < 50; i++) {
      r.push(Buffer.from('z'.repeat(20)));
      events.push(...r.drain());
      expect(r.bufferedBytes).toBeLessThan(200);
    }
    r.push(Buffer.from('\r\nb NOOP\r\n'));
    events.push(...r.drain());
    expect(events.map(showEvent)).toEqual([{ error: 'LINE', tag: null, fatal: false }, { cmd: 'b NOOP', args: [] }]);
  });

  it('counts continuation lines of one command toward the line cap', () => {
    const part = 'q'.repeat(60);
    expect(run(`a X ${part} {1+}\r\nz ${part}\r\nb NOOP\r\n`, { maxLineBytes: 100 })).toEqual([
      { error: 'LINE', tag: 'a', fatal: false },
      { cmd: 'b NOOP', args: [] },
    ]);
  });
});

describe('CommandReader: raw lines (AUTHENTICATE RFC 3501 §6.2.2, IDLE RFC 2177)', () => {
  it('returns the line after IDLE raw even when pipelined', () => {
    const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
    r.push(Buffer.from('a IDLE\r\nDONE\r\nb NOOP\r\n'));
    const first = r.next();
    expect(first && showEvent(first)).toEqual({ cmd: 'a IDLE', args: [] });
    r.readRawLine();
    expect(r.drain().map(showEvent)).toEqual([{ line: 'DONE' }, { cmd: 'b NOOP', args: [] }]);
  });

  it('returns a SASL response line unparsed', () => {
    const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
    r.push(Buffer.from('a AUTHENTICATE PLAIN\r\n'));
    r.next();
    r.readRawLine();
    r.push(Buffer.from('AHVzZXIAcGFzcw==\r\n'));
    expect(r.drain().map(showEvent)).toEqual([{ line: 'AHVzZXIAcGFzcw==' }]);
  });
});
