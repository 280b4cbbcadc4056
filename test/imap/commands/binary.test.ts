/**
 * BINARY (RFC 3516) on a real node: FETCH BINARY[part]<partial>,
 * BINARY.PEEK, BINARY.SIZE (§4.2), NO [UNKNOWN-CTE] (§4.2), APPEND with a
 * literal8 (§4.4); over a raw socket (exact replies, `@T` = the tag) and
 * through imapflow, which uses BINARY when the server offers it.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

type Row = [command: string, reply: unknown[]];

/** Bytes of the base64 part: NUL and 8-bit octets, so BINARY must answer with a literal8. */
const BLOB = Buffer.from([0x00, 0x01, 0x41, 0x42, 0xff, 0x0d, 0x0a, 0x43]);
/** The quoted-printable part decoded: its last CRLF belongs to the boundary (RFC 2046 §5.1.1). */
const QP_TEXT = 'caf\u00e9 = ok';

const MULTIPART = [
  'From: a@example.org',
  'To: b@example.org',
  'Subject: binary',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="xx"',
  '',
  '--xx',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=E9 =3D ok=',
  '',
  '--xx',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  '',
  BLOB.toString('base64'),
  '--xx',
  'Content-Type: text/plain',
  '',
  'plain 7bit',
  '--xx',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: x-uuencode',
  '',
  'begin 644 f',
  '--xx--',
  '',
].join('\r\n');

let node: TestNode;
const open: LineClient[] = [];
let folders = 0;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function selected(): Promise<{ c: LineClient; name: string }> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  open.push(c);
  const name = `bin${++folders}`;
  expect((await c.command('c', `CREATE ${name}`)).pop()).toMatch(/^c OK/);
  expect((await imapAppend(c, 'a', name, MULTIPART)).pop()).toMatch(/^a OK/);
  expect((await c.command('s', `SELECT ${name}`)).pop()).toMatch(/^s OK/);
  return { c, name };
}

async function script(c: LineClient, rows: Row[]): Promise<void> {
  let n = 0;
  for (const [command, reply] of rows) {
    const tag = `t${++n}`;
    const got = await c.command(tag, command);
    const want = reply.map((l) => (typeof l === 'string' ? l.replaceAll('@T', tag) : l));
    expect({ command, reply: got }).toEqual({ command, reply: want });
  }
}

const qp = Buffer.from(QP_TEXT, 'latin1');
/** How LineClient shows a literal: the bytes as latin1, split at CRLF. */
const latin = (b: Buffer): string => b.toString('latin1');

describe('RFC 3516 §4.2 FETCH BINARY', () => {
  it.each<Row>([
    ['FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[3])', [`* 1 FETCH (BINARY.SIZE[1] ${qp.length} BINARY.SIZE[2] ${BLOB.length} BINARY.SIZE[3] 10)`, '@T OK FETCH completed']],
    ['FETCH 1 BINARY.PEEK[1]', [`* 1 FETCH (BINARY[1] {${qp.length}}`, `${latin(qp)})`, '@T OK FETCH completed']],
    // NUL in the content: a literal8 (§4.2).
    ['FETCH 1 BINARY.PEEK[2]', [`* 1 FETCH (BINARY[2] ~{${BLOB.length}}`, latin(BLOB.subarray(0, 5)), `${latin(BLOB.subarray(7))})`, '@T OK FETCH completed']],
    ['FETCH 1 BINARY.PEEK[2]<2.3>', ['* 1 FETCH (BINARY[2]<2> {3}', 'AB\u00ff)', '@T OK FETCH completed']],
    ['FETCH 1 BINARY.PEEK[3]', ['* 1 FETCH (BINARY[3] {10}', 'plain 7bit)', '@T OK FETCH completed']],
    ['FETCH 1 BINARY.PEEK[9]', ['* 1 FETCH (BINARY[9] NIL)', '@T OK FETCH completed']],
    ['FETCH 1 BINARY.SIZE[9]', ['* 1 FETCH (BINARY.SIZE[9] NIL)', '@T OK FETCH completed']],
    ['FETCH 1 BINARY.PEEK[4]', ['@T NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding x-uuencode in part 4']],
    ['FETCH 1 BINARY.SIZE[4]', ['@T NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding x-uuencode in part 4']],
    ['FETCH 1 BINARY.PEEK[1.MIME]', ['@T BAD FETCH: Invalid binary section']],
    ['FETCH 1 BINARY.SIZE[1]<0.2>', ['@T BAD FETCH: BINARY.SIZE takes no partial']],
    ['FETCH 1 BINARY.SIZE[]', [`* 1 FETCH (BINARY.SIZE[] ${Buffer.byteLength(MULTIPART)})`, '@T OK FETCH completed']],
  ])('%s', async (command, reply) => {
    await script((await selected()).c, [[command, reply]]);
  });

  it('BINARY[] without .PEEK sets \\Seen and reports FLAGS (§4.2 as BODY[])', async () => {
    const { c } = await selected();
    await script(c, [
      ['FETCH 1 (FLAGS)', ['* 1 FETCH (FLAGS (\\Recent))', '@T OK FETCH completed']],
      ['FETCH 1 BINARY[3]', ['* 1 FETCH (BINARY[3] {10}', 'plain 7bit FLAGS (\\Seen \\Recent))', '@T OK FETCH completed']],
    ]);
  });
});

describe('RFC 3516 §4.4 APPEND with literal8', () => {
  it('a message with NUL octets is stored as sent and read back with BINARY', async () => {
    const { c, name } = await selected();
    const msg = Buffer.concat([Buffer.from('Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\nx'), Buffer.from([0, 1, 2]), Buffer.from('y\r\n')]);
    c.write(`p APPEND ${name} ~{${msg.length}+}\r\n`);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    expect(await c.readUntil((l) => l.startsWith('p '))).toEqual(['* 2 EXISTS', '* 2 RECENT', expect.stringMatching(/^p OK \[APPENDUID \d+ 2\] APPEND completed$/)]);
    await script(c, [
      ['FETCH 2 BINARY.SIZE[1]', ['* 2 FETCH (BINARY.SIZE[1] 7)', '@T OK FETCH completed']],
      ['FETCH 2 BINARY.PEEK[1]', ['* 2 FETCH (BINARY[1] ~{7}', `x\u0000\u0001\u0002y`, ')', '@T OK FETCH completed']],
    ]);
  });
});

describe('imapflow over BINARY', () => {
  it('appends with a literal8 and downloads decoded parts through FETCH BINARY', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, logger: false, tls: { rejectUnauthorized: false } });
    await client.connect();
    try {
      expect(client.capabilities.has('BINARY')).toBe(true);
      await client.mailboxCreate('flowbin');
      await client.append('flowbin', MULTIPART);
      const withNul = Buffer.concat([Buffer.from('Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\nab'), Buffer.from([0]), Buffer.from('cd\r\n')]);
      await client.append('flowbin', withNul);
      const lock = await client.getMailboxLock('flowbin');
      try {
        const read = async (seq: string, part: string): Promise<Buffer> => {
          const { content } = await client.download(seq, part, { binary: true });
          const chunks: Buffer[] = [];
          if (!content) throw new Error(`no content for ${seq}/${part}`);
          for await (const chunk of content) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks);
        };
        expect(await read('1', '2')).toEqual(BLOB);
        // imapflow turns text parts into UTF-8.
        expect((await read('1', '1')).toString('utf8')).toBe(QP_TEXT);
        expect(await read('2', '1')).toEqual(Buffer.from([0x61, 0x62, 0, 0x63, 0x64, 0x0d, 0x0a]));
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });
});
