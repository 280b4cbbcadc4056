/**
 * i;unicode-casemap (RFC 5051) in SEARCH (RFC 9051 §6.4.4 requires it for
 * substring matching) and SORT string keys, on a real node over a raw
 * socket. The expected answers are what Dovecot 2.3 (which implements RFC
 * 5051 for SEARCH) gave for the same messages and criteria on this machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unicodeCasemap } from '../../../mail-runtime/imap/message';
import { imapAppend, imapLogin } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

/** Subjects of messages 1..9, RFC 2047 encoded in the header. */
const SUBJECTS = ['äpfel', 'Straße', 'STRASSE', 'ıstanbul', 'Istanbul', 'İzmir', 'ǆungla', 'ﬁle', 'ᾳ x'];

describe('RFC 5051 §2 i;unicode-casemap: simple titlecase, then NFKD', () => {
  it.each([
    ['äpfel', 'A\u0308PFEL'], // NFKD splits the umlaut off
    ['Ä', 'A\u0308'],
    ['straße', 'STRAßE'], // ß has no simple titlecase (the full mapping "SS" is not used)
    ['ẞ', 'ẞ'], // capital sharp s is its own titlecase
    ['ı', 'I'], // Turkish dotless i title-cases to I, as i does
    ['i', 'I'],
    ['İ', 'I\u0307'], // dotted capital I: itself, then NFKD
    ['ǆ', 'Dz\u030C'], // the digraph's titlecase is Ǆ's sibling ǅ, then NFKD
    ['ﬁ', 'fi'], // no simple titlecase; NFKD gives the letters
    ['ᾳ', '\u0391\u0345'], // titlecase ᾼ (not the full uppercase ΑΙ), then NFKD
    ['mIxEd ascii 123', 'MIXED ASCII 123'],
  ])('%s → %j', (input, mapped) => {
    expect(unicodeCasemap(input)).toBe(mapped);
  });
});

describe('SEARCH and SORT compare under i;unicode-casemap', () => {
  let node: TestNode;
  let c: LineClient;
  beforeAll(async () => {
    node = await startTestNode();
    c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    expect((await c.command('c', 'CREATE Casemap')).pop()).toMatch(/^c OK/);
    let n = 0;
    for (const s of SUBJECTS) {
      const m = `From: a@example.org\r\nSubject: =?UTF-8?B?${Buffer.from(s).toString('base64')}?=\r\nMessage-ID: <cm${++n}@example.org>\r\n\r\nx\r\n`;
      expect((await imapAppend(c, 'a', 'Casemap', m)).pop()).toMatch(/^a OK/);
    }
    expect((await c.command('s', 'SELECT Casemap')).pop()).toMatch(/^s OK/);
  });
  afterAll(async () => {
    c?.close();
    await node?.dispose();
  });

  it.each([
    ['Ä', '1'],
    ['ä', '1'],
    ['STRAẞE', ''],
    ['straße', '2'],
    ['strasse', '3'],
    ['istanbul', '4 5'], // "ıstanbul" too (RFC 5051: ı → I)
    ['ISTANBUL', '4 5'],
    ['ı', '4 5 6'], // "İzmir" holds I + U+0307
    ['izmir', ''],
    ['İ', '6'],
    ['zmir', '6'],
    ['ǅ', '7'],
    ['Ǆ', '7'],
    ['file', ''],
    ['ﬁ', '8'],
    ['ᾼ', '9'],
    ['ΑΙ', ''],
  ])('SEARCH SUBJECT %s', async (needle, hits) => {
    const got = await c.command('q', `SEARCH CHARSET UTF-8 SUBJECT {${Buffer.byteLength(needle)}+}\r\n${needle}`);
    expect(got).toEqual([hits ? `* SEARCH ${hits}` : '* SEARCH', 'q OK SEARCH completed']);
  });

  it('SORT (SUBJECT) orders the mapped subjects as octets', async () => {
    // Dovecot gives the same order except for 7, which it puts after 8 (its sort key for ǆ does not start with
    // the "D" that RFC 5051's titlecase + NFKD gives). Mapped: A\u0308PFEL, STRAßE, STRASSE, ISTANBUL, ISTANBUL, I\u0307ZMIR, Dz\u030CUNGLA, fiLE, \u0391\u0345 X.
    expect(await c.command('o', 'SORT (SUBJECT) UTF-8 ALL')).toEqual(['* SORT 1 7 4 5 6 3 2 8 9', 'o OK SORT completed']);
  });
});
