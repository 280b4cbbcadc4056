/**
 * CREATE-SPECIAL-USE (RFC 6154 §3) on a real node over a raw socket:
 * `CREATE name (USE (\attr))` creates the folder with the attribute, which
 * LIST then shows (§2); an attribute we do not support gets NO [USEATTR].
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapLogin, norm } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());

describe('RFC 6154 §3 CREATE with USE', () => {
  it.each<[string, string[]]>([
    ['CREATE Saved (USE (\\Archive))', ['t OK [MAILBOXID <id>] CREATE completed']],
    ['CREATE Odd (USE (\\Important))', ['t NO [USEATTR] Unsupported special-use attribute \\Important']],
    ['CREATE Two (USE (\\Sent \\Drafts))', ['t BAD CREATE: USE needs one special-use attribute']],
    ['CREATE Bad (FOO (\\Sent))', ['t BAD CREATE: Invalid CREATE parameters (expected (USE (attributes)))']],
  ])('%s', async (command, reply) => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect(norm(await c.command('t', command))).toEqual(reply);
    } finally {
      c.close();
    }
  });

  it('LIST shows the attribute of a folder created with it', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect(norm(await c.command('a', 'CREATE Kept (USE (\\Flagged))'))).toEqual(['a OK [MAILBOXID <id>] CREATE completed']);
      expect(await c.command('l', 'LIST "" Kept')).toEqual(['* LIST (\\HasNoChildren \\Flagged) "/" "Kept"', 'l OK LIST completed']);
    } finally {
      c.close();
    }
  });
});
