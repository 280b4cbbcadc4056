/**
 * RFC 5255 §4 (I18NLEVEL=1 and =2) on a real node over a raw socket: the
 * COMPARATOR command and response (§4.7, §4.8), NO [BADCOMPARATOR]
 * (§4.9), and i;unicode-casemap (RFC 5051) as the comparator of SEARCH,
 * SORT and THREAD (§4.2).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin } from '../../helpers/imap';
import { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let dir: string;
let node: TestNode;
let c: LineClient;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-comparator-'));
  node = await startTestNode({ dir });
  c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
});
afterAll(async () => {
  c.close();
  await node.dispose();
  await rm(dir, { recursive: true, force: true });
});

const ACTIVE = ['* COMPARATOR i;unicode-casemap'];

describe('RFC 5255 §4.3, §4.4: capabilities', () => {
  it('I18NLEVEL=1 and I18NLEVEL=2 are advertised after login, and before it', async () => {
    const caps = (await c.command('c', 'CAPABILITY'))[0];
    expect(caps).toMatch(/ I18NLEVEL=1( |$)/);
    expect(caps).toMatch(/ I18NLEVEL=2( |$)/);
    const fresh = await LineClient.connect(node.imapPort);
    try {
      await fresh.readLine();
      expect((await fresh.command('c', 'CAPABILITY'))[0]).toMatch(/ I18NLEVEL=2( |$)/);
    } finally {
      fresh.close();
    }
  });
});

describe('RFC 5255 §4.7–§4.9: COMPARATOR', () => {
  const rows: { section: string; command: string; reply: string[] }[] = [
    { section: '§4.7 no arguments: the active comparator', command: 'COMPARATOR', reply: [...ACTIVE, 'a OK COMPARATOR completed'] },
    { section: '§4.7 the default comparator (§4.4: i;unicode-casemap)', command: 'COMPARATOR "default"', reply: [...ACTIVE, 'a OK Will use i;unicode-casemap for collation'] },
    { section: '§4.7 an installed one by name', command: 'COMPARATOR "i;unicode-casemap"', reply: [...ACTIVE, 'a OK Will use i;unicode-casemap for collation'] },
    { section: '§4.7 the first argument that matches wins', command: 'COMPARATOR "en;primary" "i;unicode-casemap" "default"', reply: [...ACTIVE, 'a OK Will use i;unicode-casemap for collation'] },
    { section: '§4.7 RFC 4790 §3.2 wildcards', command: 'COMPARATOR "i;unicode-*"', reply: [...ACTIVE, 'a OK Will use i;unicode-casemap for collation'] },
    { section: '§4.7 an atom argument (astring)', command: 'COMPARATOR i;unicode-casemap', reply: [...ACTIVE, 'a OK Will use i;unicode-casemap for collation'] },
    {
      section: '§4.9 none installed: NO [BADCOMPARATOR]',
      command: 'COMPARATOR "i;octet" "en;*"',
      reply: ['a NO [BADCOMPARATOR] No such comparator; installed: i;unicode-casemap'],
    },
    { section: '§4.10 comp-order-quoted is an astring, not a list', command: 'COMPARATOR (i;octet)', reply: ['a BAD COMPARATOR: arguments must be collation names (RFC 4790 section 3.1) or "default"'] },
    { section: 'a bounded argument list', command: `COMPARATOR ${'"x" '.repeat(33).trim()}`, reply: ['a BAD COMPARATOR: at most 32 comparator names'] },
    { section: '§4.10 an empty name is no collation name', command: 'COMPARATOR ""', reply: ['a BAD COMPARATOR: arguments must be collation names (RFC 4790 section 3.1) or "default"'] },
  ];
  for (const row of rows) {
    it(`${row.section}: ${row.command}`, async () => {
      expect(await c.command('a', row.command)).toEqual(row.reply);
    });
  }

  it('§4.7: valid in authenticated and selected states only', async () => {
    const fresh = await LineClient.connect(node.imapPort);
    try {
      await fresh.readLine();
      expect((await fresh.command('a', 'COMPARATOR'))[0]).toMatch(/^a BAD /);
    } finally {
      fresh.close();
    }
    await c.command('s', 'SELECT INBOX');
    expect(await c.command('a', 'COMPARATOR')).toEqual([...ACTIVE, 'a OK COMPARATOR completed']);
    await c.command('u', 'UNSELECT');
  });
});

describe('RFC 5255 §4.2: the active comparator (i;unicode-casemap, RFC 5051) in SEARCH, SORT and THREAD', () => {
  it('SEARCH SUBJECT, SORT (SUBJECT) and THREAD ORDEREDSUBJECT / REFERENCES fold non-ASCII case alike', async () => {
    await c.command('c', 'CREATE i18n');
    // Two spellings of one subject that only i;unicode-casemap equates (i;ascii-casemap leaves "Ä"/"ä" apart), and one other.
    for (const [i, s] of ['Ärger', 'zebra', 'ärger'].entries()) {
      expect((await imapAppend(c, 'a', 'i18n', `From: a@example.org\r\nSubject: ${s}\r\nMessage-ID: <i18n-${i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n`)).pop()).toMatch(/^a OK/);
    }
    await c.command('s', 'SELECT i18n');
    expect(await c.command('q', 'SEARCH CHARSET UTF-8 SUBJECT "äRGER"')).toEqual(['* SEARCH 1 3', 'q OK SEARCH completed']);
    expect(await c.command('o', 'SORT (SUBJECT) UTF-8 ALL')).toEqual(['* SORT 1 3 2', 'o OK SORT completed']);
    expect(await c.command('t', 'THREAD ORDEREDSUBJECT UTF-8 ALL')).toEqual(['* THREAD (1 3)(2)', 't OK THREAD completed']);
    // RFC 5256 §3 step 5: two roots of one subject, neither a reply, go under a dummy.
    expect(await c.command('t', 'THREAD REFERENCES UTF-8 ALL')).toEqual(['* THREAD ((1)(3))(2)', 't OK THREAD completed']);
    await c.command('u', 'UNSELECT');
  });
});
