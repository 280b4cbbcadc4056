/**
 * test/fixtures/imap-golden-extra: messages written for this repository to
 * exercise what the first golden set (imap-golden, CPython's test messages)
 * hardly covers — nested multiparts with and without preambles and
 * epilogues, blank lines and empty parts next to boundaries, unclosed inner
 * multiparts, message/rfc822 parts holding multiparts, multipart/digest, and
 * text parts that carry parameters (`name`, `format`) but no charset — with
 * Dovecot 2.3.19.1's FETCH answers for them (see that folder's
 * PROVENANCE.md). Every part's BODY[n] and BODY[n.MIME], nested ones
 * included, is fetched through a real node and compared byte for byte, as
 * golden-e2e.test.ts does for the first set.
 *
 * RFC 2046 §5.1.1: the CRLF before a boundary line belongs to the boundary,
 * so a part ends before it; RFC 2045 §5.2 / RFC 3501 §7.4.2: a text part
 * without a charset parameter is us-ascii, reported like any other
 * parameter.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';
import { WireClient } from './wire-client';

// In the repository (see its PROVENANCE.md); a missing fixture fails the file, never skips it.
const GOLDEN_DIR = path.resolve(__dirname, '..', '..', 'fixtures', 'imap-golden-extra');

type Chunk = { line: string } | { literal: { size: number; b64: string } };
interface GoldenFile {
  message: string;
  eml: { path: string; size: number; sha256: string };
  setup: { mailbox: string; internaldate: string; append: { command: string; literal: string }; stored_message_identical: boolean };
  fetch: Record<string, { command: string; status: string; untagged: string[]; response: { chunks: Chunk[] } }>;
}

const files: GoldenFile[] = readdirSync(path.join(GOLDEN_DIR, 'golden'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'golden', f), 'utf8')) as GoldenFile);

function goldenBytes(chunks: Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => ('line' in c ? Buffer.from(c.line, 'latin1') : Buffer.from(c.literal.b64, 'base64'))));
}

let node: TestNode;
let client: WireClient;
let tagNo = 0;
const nextTag = (): string => `x${++tagNo}`;
const outcomes = new Map<string, { tagged: string; fetches: Buffer[]; others: string[] }>();
const setupFailures: string[] = [];

describe('extra golden answers end to end through a node (test/fixtures/imap-golden-extra)', () => {
  beforeAll(async () => {
    node = await startTestNode();
    client = await WireClient.connect(node.imapPort);
    await client.next();
    const login = await client.command(nextTag(), `LOGIN "${ALICE.address}" "${ALICE.password}"`);
    if (!/^\S+ OK/.test(login.tagged)) throw new Error(`login: ${login.tagged}`);
    for (const g of files) {
      const box = g.setup.mailbox;
      const created = await client.command(nextTag(), `CREATE "${box}"`);
      const bytes = readFileSync(path.join(GOLDEN_DIR, g.setup.append.literal));
      const appended = await client.literalCommand(nextTag(), `APPEND "${box}" "${g.setup.internaldate}"`, bytes);
      const selected = await client.command(nextTag(), `SELECT "${box}"`);
      for (const [what, tagged] of [['CREATE', created.tagged], ['APPEND', appended.tagged], ['SELECT', selected.tagged]]) {
        if (!/^\S+ OK/.test(tagged)) setupFailures.push(`${g.message} ${what}: ${tagged}`);
      }
      const items = Object.keys(g.fetch);
      const tags = items.map(() => nextTag());
      client.write(items.map((item, i) => `${tags[i]} ${g.fetch[item].command}\r\n`).join(''));
      for (let i = 0; i < items.length; i++) {
        const r = await client.collect(tags[i]);
        const isFetch = (b: Buffer): boolean => b.toString('latin1').startsWith('* 1 FETCH ');
        outcomes.set(`${g.message}\t${items[i]}`, {
          tagged: r.tagged.slice(tags[i].length + 1),
          fetches: r.untagged.filter(isFetch),
          others: r.untagged.filter((b) => !isFetch(b)).map((b) => b.toString('latin1')),
        });
      }
    }
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await node?.dispose();
  });

  it('the fixture is intact, and every message was stored by Dovecot and by us byte for byte', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    expect(files.filter((g) => !g.setup.stored_message_identical).map((g) => g.message)).toEqual([]);
    const damaged = files.filter((g) => createHash('sha256').update(readFileSync(path.join(GOLDEN_DIR, g.eml.path))).digest('hex') !== g.eml.sha256);
    expect(damaged.map((g) => g.eml.path)).toEqual([]);
    expect(setupFailures).toEqual([]);
  });

  for (const g of files) {
    describe(g.message, () => {
      for (const [item, rec] of Object.entries(g.fetch)) {
        it(`FETCH 1 (${item})`, () => {
          const got = outcomes.get(`${g.message}\t${item}`);
          expect(got, 'no answer recorded').toBeDefined();
          expect(got!.tagged).toMatch(new RegExp(`^${rec.status} `));
          expect(got!.others).toEqual(rec.untagged);
          expect(got!.fetches).toHaveLength(1);
          expect(got!.fetches[0].toString('latin1')).toBe(goldenBytes(rec.response.chunks).toString('latin1'));
        });
      }
    });
  }
});
