import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  atom,
  CommandReader,
  compileResponse,
  compileResponseBuffer,
  compileValue,
  concat,
  continuation,
  data,
  list,
  lit,
  NIL,
  nstr,
  nums,
  num,
  str,
  tagged,
  untagged,
  type ImapValue,
  type ResponseValue,
} from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

const bytes = (r: Parameters<typeof compileResponseBuffer>[0]): string => compileResponseBuffer(r).toString('latin1');

// RFC 3501 §7: each row is a typed response and its exact bytes.
const TABLE: Array<[string, Parameters<typeof compileResponseBuffer>[0], string]> = [
  ['tagged OK', tagged('A1', 'OK', 'LOGIN completed'), 'A1 OK LOGIN completed\r\n'],
  ['tagged with code', tagged('A2', 'NO', 'Over quota', { name: 'OVERQUOTA' }), 'A2 NO [OVERQUOTA] Over quota\r\n'],
  [
    'code with list',
    untagged('OK', 'Flags permitted.', { name: 'PERMANENTFLAGS', args: [list([atom('\\Seen'), atom('\\*')])] }),
    '* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.\r\n',
  ],
  ['code with numbers', untagged('OK', 'UIDs valid', { name: 'UIDVALIDITY', args: [num(1795898575)] }), '* OK [UIDVALIDITY 1795898575] UIDs valid\r\n'],
  ['BAD text keeps one line', tagged('x', 'BAD', 'bad\r\nthing'), 'x BAD bad thing\r\n'],
  // RFC 3501 §9 text = 1*TEXT-CHAR (7-bit): what a client sent is never echoed raw (issue 9).
  ['text is 7-bit: 8-bit and controls become "?"', tagged('x', 'BAD', 'Unknown search key Éÿ\x01\x7f😀'), 'x BAD Unknown search key ?????\r\n'],
  ['continuation text is 7-bit too', continuation('é'), '+ ?\r\n'],
  ['BYE', untagged('BYE', 'Logging out'), '* BYE Logging out\r\n'],
  ['continuation', continuation('Ready for literal data'), '+ Ready for literal data\r\n'],
  ['exists', data(num(3), atom('EXISTS')), '* 3 EXISTS\r\n'],
  ['search', data(atom('SEARCH'), num(2), num(4)), '* SEARCH 2 4\r\n'],
  ['bigint', data(atom('X'), num(9007199254740993n)), '* X 9007199254740993\r\n'],
  ['quoted string', data(atom('X'), str('a b')), '* X "a b"\r\n'],
  ['escaped quotes', data(atom('X'), str('a"b\\c')), '* X "a\\"b\\\\c"\r\n'],
  ['many escapes become a literal', data(atom('X'), str('"""""')), '* X {5}\r\n"""""\r\n'],
  ['CRLF forces literal', data(atom('X'), str('a\r\nb')), '* X {4}\r\na\r\nb\r\n'],
  ['8-bit forces literal', data(atom('X'), str('ä')), '* X {2}\r\n\xc3\xa4\r\n'],
  ['NIL and nstring', data(atom('X'), list([NIL, nstr(null), nstr('')])), '* X (NIL NIL "")\r\n'],
  ['forced literal', data(num(1), atom('FETCH'), list([atom('BODY[]'), lit('ab')])), '* 1 FETCH (BODY[] {2}\r\nab)\r\n'],
  ['concat', data(atom('X'), list([concat([list([num(1)]), list([num(2)])]), str('m')])), '* X ((1)(2) "m")\r\n'],
];

describe('response compiler (RFC 3501 §7, §4.3)', () => {
  for (const [name, resp, expected] of TABLE) {
    it(name, () => expect(bytes(resp)).toBe(expected));
  }

  it('keeps a big literal as its own chunk without copying it', () => {
    const big = Buffer.alloc(1024 * 1024, 0x61);
    const chunks = compileResponse(data(num(1), atom('FETCH'), list([atom('BODY[]'), lit(big)])));
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(big);
    expect(chunks[0].toString()).toBe('* 1 FETCH (BODY[] {1048576}\r\n');
    expect(chunks[2].toString()).toBe(')\r\n');
  });
});

function fromImap(v: ImapValue): unknown {
  switch (v.type) {
    case 'nil':
      return null;
    case 'number':
      return v.value;
    case 'string':
      return v.bytes.toString('utf8');
    case 'list':
      return v.items.map(fromImap);
    case 'atom':
      return { atom: v.value };
  }
}

function expected(v: ResponseValue): unknown {
  switch (v.t) {
    case 'nil':
      return null;
    case 'number':
      return Number(v.v);
    case 'string':
    case 'literal':
      return typeof v.v === 'string' ? v.v : v.v.toString('utf8');
    case 'list':
      return v.v.map(expected);
    default:
      return undefined;
  }
}

const imapValue: fc.Arbitrary<ResponseValue> = fc.letrec<{ value: ResponseValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(NIL),
    fc.nat({ max: 2 ** 31 }).map(num),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => str(s)),
    fc.string({ unit: 'binary', maxLength: 30 }).map((s) => str(s)),
    fc.array(tie('value'), { maxLength: 4 }).map(list),
  ),
})).value;

describe('numbers (RFC 3501 §7.2.5 SEARCH response)', () => {
  it('writes the numbers of a Uint32Array as `n n n`, in chunks, exactly like joining them', () => {
    expect(compileResponseBuffer(data(atom('SEARCH'), nums(new Uint32Array([1, 10, 4294967295])))).toString()).toBe('* SEARCH 1 10 4294967295\r\n');
    // Past one chunk (6,000 numbers): the chunk boundary keeps exactly one space.
    const many = Uint32Array.from({ length: 13_001 }, (_, i) => (i * 7919) % 1_000_003);
    const chunks = compileResponse(data(atom('SEARCH'), nums(many)));
    expect(chunks.length).toBeGreaterThan(2);
    expect(Buffer.concat(chunks).toString()).toBe(`* SEARCH ${[...many].join(' ')}\r\n`);
    expect(compileValue(nums(new Uint32Array(0))).toString()).toBe('');
  });
  it('property: any u32 list compiles as its join', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 50 }), (xs) => {
        expect(compileValue(nums(Uint32Array.from(xs))).toString()).toBe(xs.join(' '));
      }),
    );
  });
});

describe('property: compile → parse round trip', () => {
  it('every compiled value parses back to the same value', () => {
    fc.assert(
      fc.property(fc.array(imapValue, { minLength: 1, maxLength: 5 }), (values) => {
        const text = Buffer.concat([Buffer.from('t X '), ...values.flatMap((v, i) => (i ? [Buffer.from(' '), compileValue(v)] : [compileValue(v)])), Buffer.from('\r\n')]);
        const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
        r.push(text);
        const events = r.drain().filter((e) => e.type !== 'continue');
        expect(events).toHaveLength(1);
        const ev = events[0];
        if (ev.type !== 'command') throw new Error(JSON.stringify(ev));
        expect(ev.command.args.map(fromImap)).toEqual(values.map(expected));
      }),
      { numRuns: 300 },
    );
  });
});

