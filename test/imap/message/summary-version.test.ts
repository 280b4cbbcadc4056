import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeMessage, SUMMARY_VERSION } from '../../../mail-runtime/imap/message';
import { MailStore } from '../../../mail-runtime/store';
import { imapLogin } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

/**
 * Summaries cached by an older analyzer (issue 15 changed parameter case,
 * default charsets and part extents) are not served: FETCH and SEARCH
 * analyse the message again. The stale summary here is made by a store with
 * an analyzer that stamps the previous version and a wrong charset, on the
 * storage a node then serves.
 */
const MESSAGE = Buffer.from(
  'From: Old <old@example.com>\r\nSubject: cached long ago\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; NAME="a.txt"\r\n\r\nbody\r\n',
);

let dir: string;
let node: TestNode;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-summary-'));
  const stale = (raw: Buffer): unknown => {
    const s = analyzeMessage(raw);
    return { ...s, version: SUMMARY_VERSION - 1, root: { ...s.root, params: [['name', 'a.txt']] }, envelope: { ...s.envelope, from: null } };
  };
  const store = new MailStore({ root: join(dir, 'storage'), analyze: stale });
  const mb = await store.openUser(ALICE.address, { epoch: 1 });
  const inbox = await mb.openFolder('INBOX');
  await inbox.append(MESSAGE);
  // Cache the stale summary now, as the old analyzer did when the message arrived.
  expect(await inbox.getSummary(1)).toMatchObject({ version: SUMMARY_VERSION - 1 });
  await inbox.close();
  await mb.close();
  await store.close();
  node = await startTestNode({ dir, users: [ALICE] });
});
afterAll(async () => {
  await node?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('cached summaries from an older analyzer (SUMMARY_VERSION)', () => {
  it('FETCH BODYSTRUCTURE and SEARCH FROM use a fresh analysis', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('s', 'EXAMINE INBOX');
      expect(await c.command('f', 'FETCH 1 BODYSTRUCTURE')).toEqual([
        '* 1 FETCH (BODYSTRUCTURE ("text" "plain" ("NAME" "a.txt" "charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL))',
        'f OK FETCH completed',
      ]);
      expect(await c.command('q', 'SEARCH FROM "old@example.com"')).toEqual(['* SEARCH 1', 'q OK SEARCH completed']);
    } finally {
      c.close();
    }
  });
});
