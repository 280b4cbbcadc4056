import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, LoginLimiter, type Directory } from '../../../mail-runtime/auth';
import { ConnectionLimit } from '../../../mail-runtime/net';
import { startImapServer, type ImapServer, type MailboxProvider } from '../../../mail-runtime/imap';
import type { UserMailbox } from '../../../mail-runtime/store';
import { imapConnect } from '../../helpers/imap';

/** Log lines of the server, parsed by logged(). */
const logLines: string[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

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
      auth: new Authenticator(directory, new LoginLimiter(), log),
      mailboxes,
      plaintextAuth: 'loopback',
      hostname: 'bug.test',
      log,
      version: 'test',
      limits: { maxMessageBytes: 1024 * 1024, imapLiteralBytes: 1024 * 1024, imapAppendMessages: 1000 },
    },
    connections: new ConnectionLimit(10),
  });
});
afterAll(() => server.close());

const logged = () => logLines.map((l) => JSON.parse(l) as { msg: string; command?: string; err?: { type?: string; message?: string; stack?: string } });

describe('handler failures', () => {
  it('a thrown error is NO [SERVERBUG]; the session keeps working', async () => {
    const { c } = await imapConnect(server.port);
    expect((await c.command('a', 'LOGIN u@x pw')).pop()).toMatch(/^a OK /);
    expect(await c.command('b', 'LIST "" "*"')).toEqual(['b NO [SERVERBUG] LIST failed: internal error']);
    expect(await c.command('c', 'GETQUOTA ""')).toEqual(['* QUOTA "" ()', 'c OK GETQUOTA completed']);
    c.close();
    // The log keeps the error itself (pino's err serializer), stack included.
    const line = logged().find((l) => l.msg === 'command failed');
    expect(line).toMatchObject({ command: 'LIST', err: { type: 'TypeError', message: 'cannot read properties of undefined' } });
    expect(line?.err?.stack).toMatch(/^TypeError: cannot read properties of undefined\n\s+at /);
  });

  it('a failing directory is NO [UNAVAILABLE], not a crash', async () => {
    const { c } = await imapConnect(server.port);
    expect(await c.command('a', 'LOGIN broken@x pw')).toEqual(['a NO [UNAVAILABLE] Authentication service unavailable, try later']);
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
    c.close();
    expect(logged().find((l) => l.msg === 'directory error')?.err?.stack).toMatch(/\n\s+at /);
  });
});
