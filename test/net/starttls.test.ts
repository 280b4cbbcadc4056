import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, StaticDirectory } from '../../mail-runtime/auth';
import { createLogger } from '../../mail-runtime/common/log';
import { startImapServer, type ImapServer } from '../../mail-runtime/imap';
import { ConnectionLimit, loadTls, type TlsMaterial } from '../../mail-runtime/net';
import { startPop3Server, type Pop3Server } from '../../mail-runtime/pop3';
import { LineClient } from '../helpers/line-client';
import { waitFor } from '../helpers/wait';
import { startTestNode, type TestNode } from '../helpers/node';
import { ALICE } from '../helpers/users';

/**
 * STARTTLS (IMAP, RFC 3501 §6.2.1) and STLS (POP3, RFC 2595 §4) share one
 * upgrade, mail-runtime/net/starttls.ts. The attack it stops is the
 * STARTTLS command injection (CVE-2011-0411): a man in the middle appends
 * commands to the client's STARTTLS in the same packet; a server that keeps
 * them buffered runs them after the handshake, as if the client had sent
 * them over TLS. Here the injected commands would log the session in, so
 * "not executed" is visible as "still not authenticated".
 */
let node: TestNode;
const clients: LineClient[] = [];
beforeAll(async () => {
  // plaintextAuth "loopback": a login sent in the clear would succeed, so an injected one would too.
  node = await startTestNode({ plaintextAuth: 'loopback' });
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function connect(port: number): Promise<{ c: LineClient; greeting: string }> {
  const c = await LineClient.connect(port);
  clients.push(c);
  return { c, greeting: await c.readLine() };
}

describe('IMAP STARTTLS (RFC 3501 §6.2.1)', () => {
  it('a LOGIN pipelined after STARTTLS in the same packet is not executed', async () => {
    const { c } = await connect(node.imapPort);
    c.write(`a STARTTLS\r\nb LOGIN ${ALICE.address} "${ALICE.password}"\r\n`);
    expect(await c.readLine()).toBe('a OK Begin TLS negotiation now');
    await c.startTls();
    // Had "b LOGIN" run, its tagged OK would come first and SELECT would work.
    expect(await c.command('c', 'SELECT INBOX')).toEqual(['c BAD SELECT not allowed now: log in first']);
    const login = await c.command('d', `LOGIN ${ALICE.address} "${ALICE.password}"`);
    expect(login[login.length - 1]).toMatch(/^d OK .*Logged in$/);
  });
});

describe('POP3 STLS (RFC 2595 §4)', () => {
  it('USER and PASS pipelined after STLS in the same packet are not executed', async () => {
    const { c } = await connect(node.pop3Port);
    c.write(`STLS\r\nUSER ${ALICE.address}\r\nPASS ${ALICE.password}\r\n`);
    expect(await c.readLine()).toBe('+OK Begin TLS negotiation');
    await c.startTls();
    // Had USER/PASS run, their +OK replies would come first and STAT would work.
    expect(await c.pop('STAT')).toEqual(['-ERR Not authenticated']);
    expect(await c.pop(`PASS ${ALICE.password}`)).toEqual(['-ERR USER first']);
    expect(await c.pop(`USER ${ALICE.address}`)).toEqual(['+OK']);
    expect((await c.pop(`PASS ${ALICE.password}`))[0]).toMatch(/^\+OK Logged in/);
  });

  it('a USER given before STLS is forgotten', async () => {
    const { c } = await connect(node.pop3Port);
    expect(await c.pop(`USER ${ALICE.address}`)).toEqual(['+OK']);
    expect(await c.pop('STLS')).toEqual(['+OK Begin TLS negotiation']);
    await c.startTls();
    expect(await c.pop(`PASS ${ALICE.password}`)).toEqual(['-ERR USER first']);
  });

  it('plaintext sent after the go-ahead, in a later packet, reaches the TLS engine and ends the connection', async () => {
    const { c } = await connect(node.pop3Port);
    expect(await c.pop('STLS')).toEqual(['+OK Begin TLS negotiation']);
    c.write(`USER ${ALICE.address}\r\n`);
    await c.waitClosed();
    // No reply at all: nothing was read as a command.
    await expect(c.readLine()).rejects.toThrow(/connection closed/);
    expect(c.pending).toBe('');
  });
});

describe('after STARTTLS the listener still tracks the connection', () => {
  let tls: TlsMaterial;
  const servers: (ImapServer | Pop3Server)[] = [];
  beforeAll(async () => {
    tls = await loadTls(undefined, 'localhost');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  /** Bounded wait for the server to see the close (it learns of it asynchronously). */
  async function settled(server: ImapServer | Pop3Server): Promise<{ sessions: number; sockets: number }> {
    await waitFor(() => server.sessions() === 0 && server.listener.connections() === 0, 'the server to let go of the connection').catch(() => undefined);
    return { sessions: server.sessions(), sockets: server.listener.connections() };
  }

  const auth = new Authenticator(StaticDirectory.fromText('users: []\n'));
  const log = createLogger({}, 'silent');

  it.each([
    ['IMAP', 'a STARTTLS', 'a OK Begin TLS negotiation now'],
    ['POP3', 'STLS', '+OK Begin TLS negotiation'],
  ])('%s: a closed upgraded connection leaves no socket behind', async (proto, command, reply) => {
    const server =
      proto === 'IMAP'
        ? await startImapServer({
            host: '127.0.0.1',
            port: 0,
            kind: 'plain',
            services: {
              auth,
              mailboxes: { open: () => Promise.reject(new Error('no mailboxes in this test')) },
              tls,
              plaintextAuth: 'never',
              hostname: 'imap.test',
              log,
              version: 'test',
              limits: { maxMessageBytes: 1024 * 1024, imapLiteralBytes: 1024 * 1024, imapAppendMessages: 1000 },
            },
            connections: new ConnectionLimit(100),
          })
        : await startPop3Server({
            host: '127.0.0.1',
            port: 0,
            kind: 'plain',
            tls,
            connections: new ConnectionLimit(100),
            auth,
            backend: { openMaildrop: () => Promise.reject(new Error('no maildrops in this test')) },
            plaintextAuth: 'never',
            log,
            hostname: 'pop.test',
          });
    servers.push(server);
    const { c } = await connect(server.port);
    c.send(command);
    expect(await c.readLine()).toBe(reply);
    await c.startTls();
    expect(server.listener.connections()).toBe(1);
    c.close();
    expect(await settled(server)).toEqual({ sessions: 0, sockets: 0 });
  });
});
