/**
 * STATUS=SIZE (RFC 8438) on a real node over a raw socket: SIZE is the sum
 * of the RFC822.SIZE of the mailbox's messages (§2), in STATUS and in
 * LIST RETURN (STATUS (...)) (RFC 5819).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message, norm } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());

describe('RFC 8438 §2 STATUS SIZE', () => {
  it('is 0 for an empty mailbox, then the sum of the message sizes; expunge lowers it', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect(norm(await c.command('c', 'CREATE sized'))).toEqual(['c OK [MAILBOXID <id>] CREATE completed']);
      expect(await c.command('s', 'STATUS sized (SIZE MESSAGES)')).toEqual(['* STATUS "sized" (SIZE 0 MESSAGES 0)', 's OK STATUS completed']);
      const one = message('one', 'x'.repeat(100));
      const two = message('two', 'y'.repeat(2000));
      await imapAppend(c, 'a', 'sized', one);
      await imapAppend(c, 'b', 'sized', two, '(\\Deleted)');
      const total = Buffer.byteLength(one) + Buffer.byteLength(two);
      expect(await c.command('s', 'STATUS sized (SIZE)')).toEqual([`* STATUS "sized" (SIZE ${total})`, 's OK STATUS completed']);
      expect(await c.command('l', 'LIST "" sized RETURN (STATUS (SIZE))')).toEqual([
        '* LIST (\\HasNoChildren) "/" "sized"',
        `* STATUS "sized" (SIZE ${total})`,
        'l OK LIST completed',
      ]);
      await c.command('x', 'SELECT sized');
      await c.command('e', 'EXPUNGE');
      await c.command('u', 'UNSELECT');
      expect(await c.command('s', 'STATUS sized (SIZE)')).toEqual([`* STATUS "sized" (SIZE ${Buffer.byteLength(one)})`, 's OK STATUS completed']);
      expect(await c.command('b', 'STATUS sized (SIZES)')).toEqual(['b BAD STATUS: Unknown STATUS item']);
    } finally {
      c.close();
    }
  });
});
