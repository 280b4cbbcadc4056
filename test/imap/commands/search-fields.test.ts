import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';

/**
 * SEARCH SUBJECT / FROM / TO / CC / BCC with a non-empty string compare the
 * messages' search-fields records (imap/search/fields.ts, kept in
 * `mailfleet/search-fields.bin`) instead of their summaries. RFC 3501
 * §6.4.4 decides the answer, whichever way it is computed: the same as the
 * summary path gives (forced here by adding SENTBEFORE 1-Jan-3000, which
 * every message matches and which only the summary can decide) — for
 * RFC 2047 encoded words in several charsets, folded and repeated fields,
 * groups, 8-bit search strings under CHARSET UTF-8 and case-insensitive
 * substrings (RFC 5051 i;unicode-casemap) — after a restart (records read
 * from the file), and when the file is damaged or of another version.
 */
const USER = { address: 'fields@example.com', password: 'fields-pw' };

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const MESSAGES: string[] = [
  // RFC 2047 B (UTF-8) subject, Q (ISO-8859-1) display name.
  `From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\r\nTo: Alice <alice@example.com>\r\nSubject: =?UTF-8?B?${b64('Grüße aus Köln')}?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n`,
  // Folded subject, several recipients, Cc and Bcc.
  'From: Bob Example <bob@example.org>\r\nTo: alice@example.com, "Carol Q." <carol@example.net>\r\nCc: Dave <dave@example.org>\r\nBcc: eve@example.com\r\nSubject: Quarterly\r\n report, FINAL\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n',
  // Two Subject fields; a group in To.
  'From: carol@example.net\r\nTo: undisclosed-recipients:;\r\nSubject: first subject\r\nSubject: Second Straße\r\nDate: Wed, 3 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n',
  // No Subject, no Date; encoded word split across two words.
  `From: =?UTF-8?Q?=C3=89milie?= <emilie@example.fr>\r\nTo: Team: alice@example.com, bob@example.org;\r\n\r\nno subject\r\n`,
  // Mixed case, Windows-1252 Q encoding.
  'From: "ZED Ltd" <sales@zed.example>\r\nTo: alice@example.com\r\nSubject: =?windows-1252?Q?Caf=E9_=96_MENU?=\r\nDate: Thu, 4 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n',
];

/** [criteria as sent, literal string argument (sent as a LITERAL+), expected sequence numbers]. */
const QUERIES: Array<[criteria: string, literal: string | null, expected: number[]]> = [
  ['CHARSET UTF-8 SUBJECT', 'GRÜSSE', []],
  ['CHARSET UTF-8 SUBJECT', 'grüße', [1]],
  ['CHARSET UTF-8 SUBJECT', 'KÖLN', [1]],
  ['SUBJECT "report, final"', null, [2]], // unfolded: "Quarterly report, FINAL"
  ['SUBJECT "quarterly report"', null, [2]],
  ['SUBJECT second', null, [3]],
  ['SUBJECT FIRST', null, [3]],
  ['CHARSET UTF-8 SUBJECT', 'STRASSE', []],
  ['CHARSET UTF-8 SUBJECT', 'straße', [3]],
  ['CHARSET UTF-8 SUBJECT', 'café – menu', [5]],
  ['CHARSET UTF-8 FROM', 'MÜLLER', [1]],
  ['CHARSET UTF-8 FROM', 'émilie', [4]],
  ['FROM example.org', null, [2]],
  ['FROM "zed ltd"', null, [5]],
  ['TO carol', null, [2]],
  ['TO undisclosed', null, [3]],
  ['TO team', null, [4]],
  ['TO alice@EXAMPLE.com', null, [1, 2, 4, 5]],
  ['CC dave', null, [2]],
  ['BCC EVE@', null, [2]],
  ['OR SUBJECT menu FROM bob', null, [2, 5]],
  ['NOT SUBJECT s', null, [2, 4, 5]],
  ['SUBJECT s FROM carol', null, [3]],
];

let dir: string;
let node: TestNode | undefined;
const metaDir = (): string => join(dir, 'storage', 'mail', 'example.com', 'fields', 'mailfleet');
const fieldsFile = (): string => join(metaDir(), 'search-fields.bin');

async function start(): Promise<LineClient> {
  node = await startTestNode({ users: [USER], dir });
  const c = await imapLogin(node.imapPort, USER.address, USER.password);
  const sel = await c.command('s', 'SELECT INBOX');
  expect(sel[sel.length - 1]).toMatch(/^s OK /);
  return c;
}

async function stop(c: LineClient): Promise<void> {
  await c.command('z', 'LOGOUT').catch(() => undefined);
  c.close();
  await node?.dispose();
  node = undefined;
}

let tagNo = 0;
/** SEARCH with the criteria and, if given, the string as a LITERAL+ (RFC 7888), so 8-bit text is sent as bytes. */
async function search(c: LineClient, criteria: string, literal: string | null, suffix = ''): Promise<number[]> {
  const tag = `q${++tagNo}`;
  if (literal === null) c.send(`${tag} SEARCH ${criteria}${suffix}`);
  else {
    const bytes = Buffer.from(literal, 'utf8');
    c.send(`${tag} SEARCH ${criteria} {${bytes.length}+}`);
    c.write(bytes);
    c.write(`${suffix}\r\n`);
  }
  const lines = await c.readUntil((l) => l.startsWith(`${tag} `), 30_000);
  expect(lines[lines.length - 1], `${criteria} ${literal ?? ''}`).toMatch(new RegExp(`^${tag} OK `));
  const hit = lines.find((l) => l.startsWith('* SEARCH'));
  return hit!.split(' ').slice(2).filter(Boolean).map(Number);
}

async function expectAnswers(c: LineClient, when: string): Promise<void> {
  for (const [criteria, literal, expected] of QUERIES) {
    const what = `${when}: SEARCH ${criteria} ${literal ?? ''}`;
    const fast = await search(c, criteria, literal);
    const long = await search(c, criteria, literal, ' SENTBEFORE 1-Jan-3000');
    expect(fast, what).toEqual(long);
    expect(fast, what).toEqual(expected);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-fields-'));
});
afterAll(async () => {
  await node?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('RFC 3501 §6.4.4 SUBJECT/FROM/TO/CC/BCC from search-fields records answer what the summaries answer', () => {
  it('right after APPEND, after a restart (records from the file), and with a damaged or foreign file', async () => {
    let c = await start();
    for (const [i, m] of MESSAGES.entries()) expect((await imapAppend(c, `a${i}`, 'INBOX', m)).at(-1)).toMatch(/^a\d+ OK /);
    await c.command('n', 'NOOP');
    await expectAnswers(c, 'after APPEND');
    await stop(c);

    // The clean close wrote the records; a new process reads them.
    const written = await readFile(fieldsFile());
    expect(written.toString('utf8')).toContain('QUARTERLY REPORT, FINAL');
    c = await start();
    await expectAnswers(c, 'after a restart');
    await stop(c);

    // Damaged: one byte changed, the checksum fails: records are derived again.
    const bad = Buffer.from(written);
    bad[bad.length - 3] ^= 0x20;
    await writeFile(fieldsFile(), bad);
    c = await start();
    await expectAnswers(c, 'after damage');
    await stop(c);

    // Another derivation version, with records that would give wrong answers if used: ignored.
    const bases = (await readdir(join(dir, 'storage', 'mail', 'example.com', 'fields', 'cur'))).map((n) => n.split(':2,')[0]!);
    expect(bases).toHaveLength(MESSAGES.length);
    const json = Buffer.from(JSON.stringify({ deriver: 'search-fields 0, summary 0', records: bases.map((b) => [b, 'x', 'x', 'x', 'x', 'zzz']) }), 'utf8');
    const foreign = Buffer.alloc(12 + json.length);
    foreign.writeUInt32LE(0x4653464d, 0);
    foreign.writeUInt32LE(1, 4);
    json.copy(foreign, 12);
    foreign.writeUInt32LE(crc32(foreign.subarray(12)), 8);
    await writeFile(fieldsFile(), foreign);
    c = await start();
    expect(await search(c, 'SUBJECT zzz', null)).toEqual([]);
    await expectAnswers(c, 'after a foreign file');
    await stop(c);
  });
});
