import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/line-client';
import { startTestNode, type TestNode } from '../helpers/node';
import { ALICE, BOB } from '../helpers/users';

// RFC 1939 §4: the maildrop is locked for the whole session; RFC 2449 §8.1.2:
// a refused second session says [IN-USE].
describe('POP3 maildrop lock (real node)', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => node.dispose());

  const login = async (user: { address: string; password: string }) => {
    const c = await LineClient.connect(node.pop3Port);
    await c.readLine();
    expect(await c.pop(`USER ${user.address}`)).toEqual([expect.stringMatching(/^\+OK/)]);
    return { c, reply: (await c.pop(`PASS ${user.password}`))[0]! };
  };

  it('a second session for the same user is refused with [IN-USE] until the first ends', async () => {
    const first = await login(ALICE);
    expect(first.reply).toMatch(/^\+OK/);
    const second = await login(ALICE);
    expect(second.reply).toBe('-ERR [IN-USE] Mailbox is in use by another POP3 session');
    // Another user's maildrop is not affected.
    const bob = await login(BOB);
    expect(bob.reply).toMatch(/^\+OK/);
    expect(await first.c.pop('QUIT')).toEqual([expect.stringMatching(/^\+OK/)]);
    await first.c.waitClosed();
    // The lock is released with the session: a retry now succeeds.
    expect((await second.c.pop(`PASS ${ALICE.password}`))[0]).toMatch(/^(\+OK|-ERR)/);
    const third = await login(ALICE);
    expect(third.reply).toMatch(/^\+OK/);
    for (const s of [second, bob, third]) s.c.close();
  });

  it('a dropped connection releases the lock too', async () => {
    const a = await login(ALICE);
    expect(a.reply).toMatch(/^\+OK/);
    a.c.close();
    let reply = '';
    // The server notices the close asynchronously: retry a bounded number of times.
    for (let i = 0; i < 100 && !reply.startsWith('+OK'); i++) {
      const b = await login(ALICE);
      reply = b.reply;
      b.c.close();
      if (!reply.startsWith('+OK')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(reply).toMatch(/^\+OK/);
  });
});
