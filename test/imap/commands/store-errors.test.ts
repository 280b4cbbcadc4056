import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapConnect, imapLogin, message, norm } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE, BOB } from '../../helpers/users';

/**
 * Store failures on the wire (RFC 5530 response codes): a failing disk is a
 * temporary `NO [UNAVAILABLE]`, a damaged mailbox file is `NO [CORRUPTION]`;
 * neither is a server bug or "moved to another node", and the session goes on.
 */
let node: TestNode;
const open: LineClient[] = [];
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

const userDir = (address: string) => {
  const [local, domain] = address.split('@');
  return join(node.dir, 'storage', 'mail', domain!, local!);
};

describe('store errors as IMAP replies', () => {
  it('an APPEND the disk cannot write is NO [UNAVAILABLE]; the session keeps working', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(c);
    expect(norm(await c.command('c', 'CREATE Broken'))).toEqual(['c OK [MAILBOXID <id>] CREATE completed']);
    // tmp/ becomes a file: writing the message fails with ENOTDIR, as root too.
    const tmp = join(userDir(ALICE.address), '.Broken', 'tmp');
    await rm(tmp, { recursive: true, force: true });
    await writeFile(tmp, 'not a directory');
    expect((await imapAppend(c, 'a', 'Broken', message('lost'))).pop()).toBe('a NO [UNAVAILABLE] Mail storage is temporarily unavailable, try again later');
    expect((await imapAppend(c, 'b', 'INBOX', message('kept'))).pop()).toMatch(/^b OK \[APPENDUID /);
  });

  it('a damaged user.json refuses the login with NO [CORRUPTION], naming no server path', async () => {
    const first = await imapLogin(node.imapPort, BOB.address, BOB.password);
    first.close();
    await writeFile(join(userDir(BOB.address), 'mailfleet', 'user', 'user.json'), '{"v":1,"subscriptions":[7],"specialUse":{}}');
    // The store drops its cached state of the user once the last session has
    // cleaned up, which happens just after the socket closes: a few tries at most.
    let reply = '';
    for (let attempt = 0; attempt < 50 && !reply.includes('[CORRUPTION]'); attempt++) {
      const { c } = await imapConnect(node.imapPort);
      open.push(c);
      reply = (await c.command('l', `LOGIN ${BOB.address} "${BOB.password}"`)).pop()!;
      c.close();
    }
    expect(reply).toBe('l NO [CORRUPTION] Mailbox data is damaged; please contact the administrator');
  });
});
