import { ImapFlow, type SearchObject } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../helpers/node';

/**
 * SEARCH BODY/TEXT without header keys takes its own walk (commands/search.ts
 * walkBodyOnly: bodies read ahead, single-part ASCII text/plain folded
 * straight from the bytes, everything else decoded through its summary).
 * RFC 9051 §6.4.4 decides the answers: a substring of the decoded text,
 * case-insensitive (i;unicode-casemap). Each query is asked twice through a
 * real client: as is, and with a key that is always true but needs the
 * summary (NOT HEADER of a field no message has), which sends it down the
 * general walk; both must give the expected UIDs.
 */
const USER = { address: 'body@example.com', password: 'body-pw' };
let node: TestNode;
let c: ImapFlow;

const b64 = (s: string, enc: BufferEncoding = 'utf8'): string => `${Buffer.from(s, enc).toString('base64')}\r\n`;
const head = (subject: string, extra = ''): string => `From: Sender <sender@example.org>\r\nTo: body@example.com\r\nSubject: ${subject}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n${extra}`;

/** The folder, in UID order (1..n): bytes and flags. */
const FOLDER: Array<{ raw: Buffer; flags: string[] }> = [
  // 1: plain ASCII (the fast path), mixed case
  { raw: Buffer.from(`${head('pond')}Content-Type: text/plain; charset=us-ascii\r\n\r\nA ZebraFish in the pond.\r\n`), flags: ['\\Seen'] },
  // 2: no Content-Type at all (text/plain US-ASCII by default), word only in the Subject
  { raw: Buffer.from(`${head('zebrafish news')}\r\nnothing here\r\n`), flags: [] },
  // 3: latin-1, 8bit: "Café zebrafish"
  { raw: Buffer.from(`${head('latin')}Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 zebrafish\r\n`, 'latin1'), flags: [] },
  // 4: base64 text: the bytes hold no "zebrafish"
  { raw: Buffer.from(`${head('b64')}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('the zebrafish swims')}`), flags: ['\\Seen'] },
  // 5: quoted-printable with a soft line break inside the word
  { raw: Buffer.from(`${head('qp')}Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nzebra=\r\nfish and caf=C3=A9\r\n`), flags: [] },
  // 6: multipart: the word only in an attachment (not text: never searched) and in a part header (TEXT only)
  {
    raw: Buffer.from(
      `${head('attachment')}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\nContent-Type: application/octet-stream; name="zebrafish.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('zebrafish')}--b1--\r\n`,
    ),
    flags: [],
  },
  // 7: multipart/alternative with an HTML part in upper case, base64 latin-1 text part
  {
    raw: Buffer.from(
      `${head('alt')}MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('CAF\xc9 au lait', 'latin1')}--b2\r\nContent-Type: text/html\r\n\r\n<p>ZEBRAFISH</p>\r\n--b2--\r\n`,
    ),
    flags: ['\\Flagged'],
  },
  // 8: UTF-8 8bit, non-ASCII body (general way), no zebrafish
  { raw: Buffer.from(`${head('utf8')}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus dem Café\r\n`), flags: [] },
  // 9: plain ASCII again, unseen, with the word twice and "pond"
  { raw: Buffer.from(`${head('two')}\r\nzebrafish, pond, ZEBRAFISH\r\n`), flags: [] },
];

beforeAll(async () => {
  node = await startTestNode({ users: [USER] });
  c = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: USER.address, pass: USER.password }, logger: false, tls: { rejectUnauthorized: false } });
  await c.connect();
  for (const m of FOLDER) await c.append('INBOX', m.raw, m.flags);
  await c.mailboxOpen('INBOX');
});
afterAll(async () => {
  await c?.logout();
  await node?.dispose();
});

/** The same query with an always-true key that needs the summary, so the general walk answers it. */
function generic(q: SearchObject): SearchObject {
  const alwaysTrue: SearchObject = { not: { header: { 'x-never-present': 'never' } } };
  return 'not' in q ? { ...q, or: [alwaysTrue, { all: true }] } : { ...q, ...alwaysTrue };
}

async function uids(q: SearchObject): Promise<number[]> {
  const r = await c.search(q, { uid: true });
  if (!r) throw new Error(`SEARCH failed: ${JSON.stringify(q)}`);
  return [...r].sort((a, b) => a - b);
}

describe('RFC 9051 §6.4.4 SEARCH BODY/TEXT: the body-only walk answers what the general walk answers', () => {
  const cases: Array<[string, SearchObject, number[]]> = [
    ['BODY, any case, decoded (8bit latin-1, base64, QP soft break, HTML part)', { body: 'zebrafish' }, [1, 3, 4, 5, 7, 9]],
    ['TEXT also looks in the headers, the part headers included', { text: 'zebrafish' }, [1, 2, 3, 4, 5, 6, 7, 9]],
    ['BODY with a non-ASCII string: decoded from latin-1, QP UTF-8, base64 latin-1 and UTF-8 8bit', { body: 'café' }, [3, 5, 7, 8]],
    ['BODY with two keys', { body: 'zebrafish', text: 'pond' }, [1, 9]],
    ['UNSEEN and BODY (metadata decides first)', { seen: false, body: 'zebrafish' }, [3, 5, 7, 9]],
    ['NOT BODY', { not: { body: 'zebrafish' } }, [2, 6, 8]],
    ['OR of BODY and FLAGGED', { or: [{ body: 'pond' }, { flagged: true }] }, [1, 7, 9]],
    ['BODY in a UID range', { uid: '4:8', body: 'zebrafish' }, [4, 5, 7]],
    ['UNSEEN alone', { seen: false }, [2, 3, 5, 6, 7, 8, 9]],
    ['a string found nowhere', { body: 'zebrafishes' }, []],
  ];
  for (const [what, q, expected] of cases) {
    it(what, async () => {
      expect(await uids(q)).toEqual(expected);
      expect(await uids(generic(q))).toEqual(expected);
    });
  }
});
