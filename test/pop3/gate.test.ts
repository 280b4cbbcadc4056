import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, LoginLimiter, StaticDirectory, hashPassword } from '../../mail-runtime/auth';
import { LIMITS } from '../../mail-runtime/common/limits';
import { createLogger, type Logger } from '../../mail-runtime/common/log';
import { ConnectionLimit, loadTls, type TlsMaterial } from '../../mail-runtime/net';
import { MaildropInUseError, startPop3Server, type Pop3Backend, type Pop3Server } from '../../mail-runtime/pop3';
import { LineClient } from '../helpers/line-client';

/**
 * The POP3 command gate (mail-runtime/pop3/commands/dispatch.ts), table by
 * table: every line passes syntax (RFC 1939 §3), state (§4–§6, RFC 2449 §5,
 * RFC 5034 §4, RFC 2595 §4) and argument checks before a handler runs, and
 * bad commands are counted in one place. Each refusal row also proves that
 * it counted: after it, LIMIT-1 more bad commands close the connection.
 */
const LIMIT = LIMITS.imapBadCommandsBeforeBye;
const MSG = 'From: a@x\r\nSubject: one\r\n\r\nbody\r\n';
const PASSWORD = 'secret pw';

let tls: TlsMaterial;
let directory: StaticDirectory;
beforeAll(async () => {
  tls = await loadTls(undefined, 'localhost');
  const h = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 });
  directory = StaticDirectory.fromText(`users:\n  - address: alice@example.com\n    password: "${h}"\n`);
});

/** An in-memory maildrop with the RFC 1939 §4 lock; `gone` makes a message unreadable after login. */
function lockingBackend(): { backend: Pop3Backend; gone: Set<number> } {
  const locked = new Set<string>();
  const gone = new Set<number>();
  const backend: Pop3Backend = {
    async openMaildrop(user) {
      if (locked.has(user.address)) throw new MaildropInUseError(user.address);
      locked.add(user.address);
      return {
        list: async () => [1, 2].map((uid) => ({ uid, size: MSG.length, uniqueId: `u${uid}` })),
        read: async (uid) => {
          if (gone.has(uid)) throw new Error('expunged elsewhere');
          return Buffer.from(MSG);
        },
        expunge: async (uids) => uids,
        close: async () => {
          locked.delete(user.address);
        },
      };
    },
  };
  return { backend, gone };
}

const servers: Pop3Server[] = [];
const clients: LineClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function startServer(opts: { auth?: Authenticator; backend?: Pop3Backend; log?: Logger } = {}): Promise<{ server: Pop3Server; gone: Set<number> }> {
  const mem = lockingBackend();
  const server = await startPop3Server({
    host: '127.0.0.1',
    port: 0,
    kind: 'plain',
    tls,
    connections: new ConnectionLimit(100),
    auth: opts.auth ?? new Authenticator(directory, new LoginLimiter({ perAddress: 1000, perUserAddress: 1000, perUser: 1000, windowMs: 60_000, userDelayMaxMs: 0, pairDelayMs: 1000 })),
    backend: opts.backend ?? mem.backend,
    plaintextAuth: 'loopback',
    log: opts.log ?? createLogger({}, 'silent'),
    hostname: 'pop.test',
  });
  servers.push(server);
  return { server, gone: mem.gone };
}

let shared: { server: Pop3Server; gone: Set<number> };
beforeAll(async () => {
  shared = await startServer();
});

type State = 'AUTHORIZATION' | 'TRANSACTION';

async function connect(state: State, server = shared.server): Promise<LineClient> {
  const c = await LineClient.connect(server.port);
  clients.push(c);
  expect(await c.readLine()).toBe('+OK pop.test POP3 ready');
  if (state === 'TRANSACTION') {
    expect(await c.pop('USER alice@example.com')).toEqual(['+OK']);
    expect((await c.pop(`PASS ${PASSWORD}`))[0]).toMatch(/^\+OK Logged in, 2 messages/);
  }
  return c;
}

/**
 * Sends `n` unknown commands and a CAPA in one packet. If the limit is
 * reached on the way, the session answers "closing" and hangs up before CAPA;
 * otherwise CAPA is answered. Returns which happened.
 */
async function badCommandsThenCapa(c: LineClient, n: number): Promise<'closed' | 'open'> {
  c.write(`${'BOGUS\r\n'.repeat(n)}CAPA\r\n`);
  const lines = await c.readUntil((l) => l === '-ERR Too many bad commands, closing' || l === '+OK Capability list follows');
  expect(lines.slice(0, n)).toEqual(Array(n).fill('-ERR Unknown command'));
  if (lines[lines.length - 1] === '+OK Capability list follows') {
    await c.readUntil((l) => l === '.');
    return 'open';
  }
  await c.waitClosed();
  return 'closed';
}

/** Asserts the reply, then that the command counted as exactly one bad command. */
async function refusedAndCounted(state: State, command: string, reply: string): Promise<void> {
  const c = await connect(state);
  expect(await c.pop(command)).toEqual([reply]);
  expect(await badCommandsThenCapa(c, LIMIT - 1)).toBe('closed');
}

describe('RFC 1939 §3 command syntax (before any state check)', () => {
  it.each([
    ['', '-ERR Invalid command syntax'],
    [' STAT', '-ERR Invalid command syntax'],
    ['LIST  1', '-ERR Invalid command syntax'],
    ['RETR 1 ', '-ERR Invalid command syntax'],
    ['ST4T', '-ERR Invalid command syntax'],
    ['AVERYLONGKEYWORD', '-ERR Invalid command syntax'],
    ['FOO', '-ERR Unknown command'],
    ['APOP alice@example.com c4c9334bac560ecc979e58001b3e22fb', '-ERR Unknown command'],
    ['XTND XMIT', '-ERR Unknown command'],
  ])('%j → %j (counted)', async (command, reply) => {
    await refusedAndCounted('AUTHORIZATION', command, reply);
  });

  it('an over-long line is one bad command (RFC 2449 §4 line length)', async () => {
    const c = await connect('AUTHORIZATION');
    c.write(`USER ${'x'.repeat(LIMITS.pop3LineBytes + 10)}\r\n`);
    expect(await c.readLine()).toBe('-ERR Line too long');
    expect(await badCommandsThenCapa(c, LIMIT - 1)).toBe('closed');
  });
});

describe('state violations: every command outside the states it is valid in', () => {
  describe('RFC 1939 §4: TRANSACTION commands in AUTHORIZATION', () => {
    it.each(['STAT', 'LIST', 'LIST 1', 'RETR 1', 'DELE 1', 'NOOP', 'RSET', 'TOP 1 0', 'UIDL', 'UIDL 1', 'STAT 1 2'])(
      '%j → -ERR Not authenticated (counted)',
      async (command) => {
        await refusedAndCounted('AUTHORIZATION', command, '-ERR Not authenticated');
      },
    );
  });

  describe('RFC 1939 §5, RFC 5034 §4, RFC 2595 §4: AUTHORIZATION commands in TRANSACTION', () => {
    it.each(['USER alice@example.com', `PASS ${PASSWORD}`, 'AUTH', 'AUTH PLAIN', 'AUTH PLAIN AGFsaWNlAHg=', 'STLS'])(
      '%j → -ERR Already authenticated (counted)',
      async (command) => {
        await refusedAndCounted('TRANSACTION', command, '-ERR Already authenticated');
      },
    );
  });

  describe('RFC 2449 §5 CAPA and RFC 1939 §4/§6 QUIT are valid in both states', () => {
    it.each<[State, string, string[]]>([
      ['AUTHORIZATION', 'CAPA', [expect.stringMatching(/^\+OK Capability list follows$/)]],
      ['TRANSACTION', 'CAPA', [expect.stringMatching(/^\+OK Capability list follows$/)]],
      ['AUTHORIZATION', 'QUIT', ['+OK pop.test POP3 signing off']],
      ['TRANSACTION', 'QUIT', ['+OK pop.test POP3 signing off (2 messages left)']],
    ])('%s: %j → %j', async (state, command, reply) => {
      const c = await connect(state);
      expect(await c.pop(command)).toEqual(reply);
    });
  });
});

describe('bad arguments, checked before the handler runs', () => {
  describe('RFC 1939 §4 / §7 AUTHORIZATION commands', () => {
    it.each([
      ['USER', '-ERR Missing or invalid user name'],
      [`USER ${'a'.repeat(256)}`, '-ERR Missing or invalid user name'],
      ['PASS', '-ERR Missing password'],
      ['PASS x', '-ERR USER first'],
      ['QUIT now', '-ERR No arguments expected'],
    ])('%j → %j (counted)', async (command, reply) => {
      await refusedAndCounted('AUTHORIZATION', command, reply);
    });
  });

  describe('RFC 2449 §5 CAPA, RFC 5034 §4 AUTH, RFC 2595 §4 STLS', () => {
    it.each([
      ['CAPA all', '-ERR No arguments expected'],
      ['AUTH CRAM-MD5', '-ERR Unsupported authentication mechanism'],
      ['AUTH PLAIN a b', '-ERR Invalid arguments'],
      ['AUTH PLAIN !!!', '-ERR Invalid base64'],
      ['STLS now', '-ERR No arguments expected'],
    ])('%j → %j (counted)', async (command, reply) => {
      await refusedAndCounted('AUTHORIZATION', command, reply);
    });
  });

  describe('RFC 1939 §5 TRANSACTION commands', () => {
    it.each([
      ['STAT 1', '-ERR No arguments expected'],
      ['LIST 1 2', '-ERR Too many arguments'],
      ['LIST 0', '-ERR Invalid message number'],
      ['LIST 01', '-ERR Invalid message number'],
      ['LIST +1', '-ERR Invalid message number'],
      ['LIST 3', '-ERR No such message'],
      ['RETR', '-ERR Usage: RETR msg'],
      ['RETR 1 2', '-ERR Usage: RETR msg'],
      ['RETR one', '-ERR Invalid message number'],
      ['RETR 12345678901', '-ERR Invalid message number'],
      ['DELE', '-ERR Usage: DELE msg'],
      ['DELE 0', '-ERR Invalid message number'],
      ['DELE 9', '-ERR No such message'],
      ['NOOP x', '-ERR No arguments expected'],
      ['RSET x', '-ERR No arguments expected'],
      ['QUIT x', '-ERR No arguments expected'],
    ])('%j → %j (counted)', async (command, reply) => {
      await refusedAndCounted('TRANSACTION', command, reply);
    });
  });

  describe('RFC 1939 §7 optional TRANSACTION commands (TOP, UIDL)', () => {
    it.each([
      ['TOP 1', '-ERR Usage: TOP msg n'],
      ['TOP 1 2 3', '-ERR Usage: TOP msg n'],
      ['TOP x 1', '-ERR Invalid message number'],
      ['TOP 1 x', '-ERR Invalid line count'],
      ['TOP 1 -1', '-ERR Invalid line count'],
      ['TOP 1 1234567890', '-ERR Invalid line count'],
      ['TOP 3 0', '-ERR No such message'],
      ['UIDL 1 2', '-ERR Too many arguments'],
      ['UIDL 0', '-ERR Invalid message number'],
      ['UIDL 9', '-ERR No such message'],
    ])('%j → %j (counted)', async (command, reply) => {
      await refusedAndCounted('TRANSACTION', command, reply);
    });
  });

  it('a deleted message cannot be referred to (RFC 1939 §5), and each try counts', async () => {
    const c = await connect('TRANSACTION');
    expect(await c.pop('DELE 1')).toEqual(['+OK Message 1 deleted']);
    for (const cmd of ['RETR 1', 'TOP 1 0', 'LIST 1', 'UIDL 1', 'DELE 1']) expect(await c.pop(cmd)).toEqual(['-ERR Message is deleted']);
    expect(await badCommandsThenCapa(c, LIMIT - 5)).toBe('closed');
  });
});

describe('the bad-command limit (one counter, in the gate)', () => {
  it(`closes after ${LIMIT} bad commands in a row of every kind`, async () => {
    const c = await connect('AUTHORIZATION');
    // A wrong password counts too (RFC 3206 §4 [AUTH]); USER's +OK before it starts the count at 0.
    expect(await c.pop('USER alice@example.com')).toEqual(['+OK']);
    expect(await c.pop('PASS wrong')).toEqual(['-ERR [AUTH] Authentication failed']);
    const mix: [string, string][] = [
      ['', '-ERR Invalid command syntax'],
      ['BOGUS', '-ERR Unknown command'],
      ['STAT', '-ERR Not authenticated'],
      ['CAPA x', '-ERR No arguments expected'],
      ['PASS x', '-ERR USER first'],
      ['AUTH X', '-ERR Unsupported authentication mechanism'],
    ];
    for (let i = 0; i < LIMIT - 2; i++) {
      const [cmd, reply] = mix[i % mix.length];
      expect(await c.pop(cmd)).toEqual([reply]);
    }
    c.send('TOP 1 1');
    expect(await c.readUntil((l) => l.includes('closing'))).toEqual(['-ERR Not authenticated', '-ERR Too many bad commands, closing']);
    await c.waitClosed();
  });

  it.each<[State, string, boolean]>([
    ['AUTHORIZATION', 'CAPA', true],
    ['AUTHORIZATION', 'USER alice@example.com', false],
    ['AUTHORIZATION', 'AUTH', true],
    ['TRANSACTION', 'NOOP', false],
    ['TRANSACTION', 'STAT', false],
    ['TRANSACTION', 'LIST', true],
    ['TRANSACTION', 'UIDL 1', false],
    ['TRANSACTION', 'RETR 1', true],
    ['TRANSACTION', 'TOP 1 0', true],
    ['TRANSACTION', 'DELE 1', false],
    ['TRANSACTION', 'RSET', false],
  ])('%s: +OK to %j starts the count again', async (state, command, multiline) => {
    const c = await connect(state);
    c.write('BOGUS\r\n'.repeat(LIMIT - 1));
    for (let i = 0; i < LIMIT - 1; i++) expect(await c.readLine()).toBe('-ERR Unknown command');
    expect((await c.pop(command, multiline))[0]).toMatch(/^\+OK/);
    expect(await badCommandsThenCapa(c, LIMIT - 1)).toBe('open');
    expect(await badCommandsThenCapa(c, LIMIT)).toBe('closed');
  });

  it("a refusal for the server's reasons ([IN-USE], [SYS/TEMP]) neither counts nor resets (RFC 2449 §8.1.2, RFC 3206 §5)", async () => {
    const { server, gone } = await startServer();
    const holder = await connect('TRANSACTION', server);
    const c = await connect('AUTHORIZATION', server);
    expect(await c.pop('USER alice@example.com')).toEqual(['+OK']);
    c.write('BOGUS\r\n'.repeat(LIMIT - 1));
    for (let i = 0; i < LIMIT - 1; i++) expect(await c.readLine()).toBe('-ERR Unknown command');
    expect(await c.pop(`PASS ${PASSWORD}`)).toEqual(['-ERR [IN-USE] Mailbox is in use by another POP3 session']);
    // Had [IN-USE] counted, the session would have closed right after it; had it reset, this would not close.
    expect(await badCommandsThenCapa(c, 1)).toBe('closed');

    expect(await holder.pop('QUIT')).toEqual(['+OK pop.test POP3 signing off (2 messages left)']);
    await holder.waitClosed();
    const t = await connect('TRANSACTION', server);
    gone.add(2);
    t.write('BOGUS\r\n'.repeat(LIMIT - 1));
    for (let i = 0; i < LIMIT - 1; i++) expect(await t.readLine()).toBe('-ERR Unknown command');
    expect(await t.pop('RETR 2')).toEqual(['-ERR [SYS/TEMP] Message no longer available']);
    expect(await badCommandsThenCapa(t, 1)).toBe('closed');
  });
});

describe('RFC 3206 §5 [SYS/TEMP]: an unexpected exception is a temp-fail reply and a log line, never a crash', () => {
  function capturingLogger(): { log: Logger; records: () => Record<string, unknown>[] } {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    return { log: pino({ level: 'info' }, sink), records: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  class ExplodingAuthenticator extends Authenticator {
    override async login(): Promise<never> {
      throw new TypeError('directory exploded');
    }
  }

  it('a handler that throws: -ERR [SYS/TEMP] Internal error, the stack in the log, the session goes on', async () => {
    const cap = capturingLogger();
    const { server } = await startServer({ auth: new ExplodingAuthenticator(directory, new LoginLimiter()), log: cap.log });
    const c = await connect('AUTHORIZATION', server);
    expect(await c.pop('USER alice@example.com')).toEqual(['+OK']);
    expect(await c.pop(`PASS ${PASSWORD}`)).toEqual(['-ERR [SYS/TEMP] Internal error']);
    // The same session still answers, and the server takes new connections.
    expect((await c.pop('CAPA', true))[0]).toBe('+OK Capability list follows');
    await connect('AUTHORIZATION', server);
    const failed = cap.records().find((r) => r.msg === 'command failed');
    expect(failed).toMatchObject({ level: 50, command: 'PASS', err: 'directory exploded' });
    expect(String(failed?.stack)).toMatch(/TypeError: directory exploded\n\s+at /);
    // Never the arguments: PASS carries the password.
    expect(JSON.stringify(cap.records())).not.toContain(PASSWORD);
  });

  it('a backend that throws: -ERR [SYS/TEMP] Unable to open maildrop, with the stack in the log', async () => {
    const cap = capturingLogger();
    const backend: Pop3Backend = {
      openMaildrop() {
        throw new RangeError('storage exploded');
      },
    };
    const { server } = await startServer({ backend, log: cap.log });
    const c = await connect('AUTHORIZATION', server);
    expect(await c.pop('USER alice@example.com')).toEqual(['+OK']);
    expect(await c.pop(`PASS ${PASSWORD}`)).toEqual(['-ERR [SYS/TEMP] Unable to open maildrop']);
    expect(await c.pop('STAT')).toEqual(['-ERR Not authenticated']);
    const failed = cap.records().find((r) => r.msg === 'cannot open maildrop');
    expect(String(failed?.stack)).toMatch(/RangeError: storage exploded\n\s+at /);
  });
});
