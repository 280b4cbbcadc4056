import { describe, expect, it } from 'vitest';
import { analyzeMessage } from '../../../mail-runtime/imap/message';
import { CommandReader, type ImapValue } from '../../../mail-runtime/imap/protocol';
import { matchesSearch, parseSearch, type SearchMessage } from '../../../mail-runtime/imap/search';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

function args(line: string): readonly ImapValue[] {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.from(`t SEARCH ${line}\r\n`));
  const ev = r.drain().find((e) => e.type !== 'continue');
  if (ev?.type !== 'command') throw new Error(JSON.stringify(ev));
  return ev.command.args;
}

describe('SEARCH criteria parser (RFC 3501 §6.4.4)', () => {
  it('accepts every RFC 3501 key', () => {
    const all =
      'ALL ANSWERED BCC x BEFORE 1-Jan-2024 BODY x CC x DELETED DRAFT FLAGGED FROM x HEADER X-A "" KEYWORD $a LARGER 5 NEW NOT SEEN OLD ON 2-Feb-2020 ' +
      'OR SEEN DRAFT RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SINCE 1-Jan-2000 SMALLER 9 SUBJECT x TEXT x TO x UID 1:* ' +
      'UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $b UNSEEN 1,3:5 (SEEN FLAGGED) MODSEQ 5 MODSEQ "/flags/\\\\Seen" all 7';
    const r = parseSearch(args(all));
    expect(r.ok).toBe(true);
    expect(r.ok && r.value.key.op === 'and' && r.value.key.keys.length).toBe(39);
  });
  it('answers BADCHARSET for an unknown charset', () => {
    expect(parseSearch(args('CHARSET KOI8-R ALL'))).toMatchObject({ ok: false, badCharset: true });
    expect(parseSearch(args('CHARSET us-ascii ALL'))).toMatchObject({ ok: true, value: { charset: 'US-ASCII' } });
  });
  it('parses RETURN options (RFC 4731)', () => {
    expect(parseSearch(args('RETURN (MIN COUNT) ALL'))).toMatchObject({ ok: true, value: { returnOptions: ['MIN', 'COUNT'] } });
  });
  it('rejects malformed criteria', () => {
    for (const bad of ['', 'FOO', 'FROM', 'BEFORE 2024-01-01', 'LARGER x', 'OR SEEN', 'NOT', '()', 'HEADER "a:b" x', 'UID x', 'KEYWORD (a)']) {
      expect(parseSearch(args(bad)).ok, bad).toBe(false);
    }
  });
});

describe('SEARCH evaluation', () => {
  const raw = Buffer.from(
    'From: =?iso-8859-1?q?J=F6rg?= <j@x.org>\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?=\r\nDate: 3 Feb 2021 10:00 +0000\r\n' +
      'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 au lait=\r\n here\r\n',
  );
  const summary = analyzeMessage(raw);
  let reads = 0;
  const msg: SearchMessage = {
    seq: 1,
    uid: 10,
    flags: ['\\Seen'],
    internalDate: new Date('2024-01-01T12:00:00Z'),
    size: raw.length,
    modseq: 5n,
    recent: true,
    summary: () => summary,
    raw: async () => {
      reads++;
      return raw;
    },
  };
  const match = async (q: string): Promise<boolean> => {
    const p = parseSearch(args(q));
    if (!p.ok) throw new Error(p.error);
    return matchesSearch(p.value.key, msg, { messageCount: 1, maxUid: 10 });
  };
  it('matches decoded headers and bodies, case-insensitively', async () => {
    expect(await match('CHARSET UTF-8 FROM {5+}\r\njÖrg')).toBe(true);
    expect(await match('CHARSET UTF-8 SUBJECT {6+}\r\nGRÜSS')).toBe(false);
    expect(await match('CHARSET UTF-8 SUBJECT {6+}\r\ngrüß')).toBe(true);
    expect(await match('CHARSET UTF-8 BODY {8+}\r\ncafé au')).toBe(true);
    expect(await match('BODY "lait here"')).toBe(true);
    expect(await match('BODY "Subject"')).toBe(false);
    expect(await match('TEXT "subject"')).toBe(true);
  });
  it('decides metadata keys without reading the body', async () => {
    reads = 0;
    expect(await match('SEEN RECENT NOT NEW UID 10 1 MODSEQ 5 SENTON 3-Feb-2021 ON 1-Jan-2024 LARGER 10')).toBe(true);
    expect(await match('OR UNSEEN BODY x')).toBe(false);
    expect(reads).toBe(1); // only the OR needed the body
    reads = 0;
    expect(await match('UNSEEN BODY x')).toBe(false);
    expect(reads).toBe(0); // UNSEEN already false
  });
});

describe('SEARCH FROM/TO/CC/BCC against the envelope (RFC 3501 §6.4.4)', () => {
  const raw = Buffer.from(
    'From: "Doe, \\"JD\\" John" <jd(x)@example.org>\r\nTo: undisclosed-recipients:;\r\nCc: =?utf-8?q?J=C3=B6rg?= <"j.o"@example.com>, bare\r\nSubject: s\r\n\r\nbody\r\n',
  );
  const summary = analyzeMessage(raw);
  const msg: SearchMessage = {
    seq: 1,
    uid: 1,
    flags: [],
    internalDate: new Date('2024-01-01T12:00:00Z'),
    size: raw.length,
    modseq: 1n,
    recent: false,
    summary: () => summary,
    raw: () => Promise.resolve(raw),
  };
  const ctx = { messageCount: 1, maxUid: 1 };
  it.each<[string, boolean]>([
    ['FROM "Doe, \\"JD\\" John <jd@example.org>"', true],
    ['FROM "jd(x)"', false],
    ['TO "undisclosed-recipients:;"', true],
    ['TO ""', true],
    ['BCC ""', false],
    ['CC "J\u00f6rg <j.o@example.com>, bare"', true],
    ['CC MISSING_DOMAIN', false],
    ['NOT CC "\\"j.o\\""', true],
  ])('%s → %s', async (criteria, want) => {
    const r = parseSearch(args(`CHARSET UTF-8 ${criteria}`));
    expect(r.ok).toBe(true);
    if (r.ok) expect(await matchesSearch(r.value.key, msg, ctx)).toBe(want);
  });
});
