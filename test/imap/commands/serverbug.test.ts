import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, LoginLimiter, type Directory } from '../../../mail-runtime/auth';
import { createLogger } from '../../../mail-runtime/common/log';
import { ConnectionLimit } from '../../../mail-runtime/net';
import { startImapServer, type ImapServer, type MailboxProvider } from '../../../mail-runtime/imap';
import type { UserMailbox } from '../../../mail-runtime/store';
import { imapConnect } from '../../helpers/imap';

/**
 * CONVENTIONS.md: an unexpected exception in a handler becomes a tagged NO
 * and a log line, never a dead session or process. Uses a store stub that
 * throws where the real store never would.
 */
let server: ImapServer;
beforeAll(async () => {
  const directory: Directory = {
    authenticate: async (user) => {
      if (user === 'broken@x') throw new Error('directory backend down');
      return { address: user };
    },
    lookup: async (a) => ({ address: a }),
  };
  const mailbox = {
    address: 'u@x',
    epoch: 1,
    listFolders: async () => {
      throw new TypeError('cannot read properties of undefined');
    },
    getQuota: async () => ({ storageUsed: 0, messagesUsed: 0 }),
    close: async () => undefined,
  } as unknown as UserMailbox;
  const mailboxes: MailboxProvider = { open: async () => ({ mailbox, release: async () => undefined }) };
  server = await startImapServer({
    host: '127.0.0.1',
    port: 0,
    kind: 'plain',
    services: {
      auth: new Authenticator(directory, new LoginLimiter()),
      mailboxes,
      plaintextAuth: 'loopback',
      hostname: 'bug.test',
      log: createLogger({}, 'silent'),
      version: 'test',
      limits: { maxMessageBytes: 1024 * 1024, imapLiteralBytes: 1024 * 1024 },
    },
    connections: new ConnectionLimit(10),
  });
});
afterAll(() => server.close());

describe('handler failures', () => {
  it('a thrown error is NO [SERVERBUG]; the session keeps working', async () => {
    const { c } = await imapConnect(server.port);
    expect((await c.command('a', 'LOGIN u@x pw')).pop()).toMatch(/^a OK /);
    expect(await c.command('b', 'LIST "" "*"')).toEqual(['b NO [SERVERBUG] LIST failed: internal error']);
    expect(await c.command('c', 'GETQUOTA ""')).toEqual(['* QUOTA "" ()', 'c OK GETQUOTA completed']);
    c.close();
  });

  it('a failing directory is NO [UNAVAILABLE], not a crash', async () => {
    const { c } = await imapConnect(server.port);
    expect(await c.command('a', 'LOGIN broken@x pw')).toEqual(['a NO [UNAVAILABLE] Authentication service unavailable, try later']);
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
    c.close();
  });
});
