import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapConnect, imapLogin, message } from '../helpers/imap';
import { LineClient } from '../helpers/line-client';
import { spawnNodeMember, type SpawnedMember, type TestLimits } from '../helpers/node';
import { ALICE, writeUsersFile } from '../helpers/users';

/**
 * Config `limits` reach the process: each test writes a small value into a
 * real member's config file, starts it with `mailfleet run --config` and
 * sees the refusal on the wire.
 */
let dir: string;
const members: SpawnedMember[] = [];
const clients: LineClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-limits-'));
  await writeUsersFile(join(dir, 'users.yaml'), [ALICE]);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const m of members.splice(0)) await m.stop();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function member(name: string, limits: TestLimits): Promise<SpawnedMember> {
  const m = await spawnNodeMember(dir, { memberId: name, cluster: 'limits', limits });
  members.push(m);
  return m;
}

async function login(port: number): Promise<LineClient> {
  const c = await imapLogin(port, ALICE.address, ALICE.password);
  clients.push(c);
  return c;
}

/** A message of exactly `size` octets. */
function sized(size: number): string {
  const head = message('sized', '');
  return head + 'x'.repeat(size - Buffer.byteLength(head));
}

describe('limits.maxMessageBytes', () => {
  it('APPEND above it is NO [TOOBIG] (RFC 4469 §4), for a synchronising literal and for LITERAL+; at the limit it is stored', async () => {
    const m = await member('msg-size', { maxMessageBytes: 2048 });
    const c = await login(m.imapPort);
    c.send('a APPEND INBOX {2049}');
    expect(await c.readLine()).toBe('a NO [TOOBIG] Message too big (max 2048 octets)');
    // LITERAL+ (RFC 7888): the bytes arrive unasked; the command is refused once they have.
    c.write(`b APPEND INBOX {2049+}\r\n${sized(2049)}\r\n`);
    expect(await c.readLine()).toBe('b NO [TOOBIG] Message too big (max 2048 octets)');
    c.write(`c APPEND INBOX {2048+}\r\n${sized(2048)}\r\n`);
    expect(await c.readLine()).toMatch(/^c OK \[APPENDUID \d+ 1\] APPEND completed$/);
  });
});

describe('limits.imapLiteralBytes', () => {
  it('a literal above it is refused: NO [TOOBIG] before it is sent, BYE for a non-synchronising one (RFC 7888 §4)', async () => {
    const m = await member('literal-size', { maxMessageBytes: 1024, imapLiteralBytes: 4096 });
    const c = await login(m.imapPort);
    await c.command('s', 'SELECT INBOX');
    c.send('a SEARCH TEXT {4097}');
    expect(await c.readLine()).toBe('a NO [TOOBIG] Literal too big (max 4096 octets)');
    c.send('b SEARCH TEXT {4096}');
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(`${'y'.repeat(4096)}\r\n`);
    expect(await c.readUntil((l) => l.startsWith('b '))).toEqual(['* SEARCH', 'b OK SEARCH completed']);
    c.send('c SEARCH TEXT {4097+}');
    expect(await c.readUntil((l) => l.startsWith('* BYE'))).toEqual(['c BAD [TOOBIG] Non-synchronizing literal too big (max 4096 octets)', '* BYE Connection cannot continue']);
    await c.waitClosed();
  });
});

describe('limits.maxConnections', () => {
  it('one connection over it gets the protocol refusal and is closed (IMAP BYE [UNAVAILABLE], POP3 -ERR [SYS/TEMP]); a freed slot is served again', async () => {
    const m = await member('connections', { maxConnections: 2 });
    const first = await login(m.imapPort);
    const second = await imapConnect(m.imapPort);
    clients.push(second.c);
    expect(second.greeting).toMatch(/^\* OK \[CAPABILITY /);

    // The limit is the member's, over all its client listeners.
    const imap = await imapConnect(m.imapPort);
    clients.push(imap.c);
    expect(imap.greeting).toBe('* BYE [UNAVAILABLE] Too many connections, try again later');
    await imap.c.waitClosed();
    const pop = await LineClient.connect(m.pop3Port);
    clients.push(pop);
    expect(await pop.readLine()).toBe('-ERR [SYS/TEMP] Too many connections, try again later');
    await pop.waitClosed();
    const metrics = await (await fetch(`http://127.0.0.1:${m.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/^mailfleet_connections_refused_total\{[^}]*\} 2$/m);

    expect(await first.command('l', 'LOGOUT')).toEqual(['* BYE Logging out', 'l OK LOGOUT completed']);
    await first.waitClosed();
    // The server frees the slot once the session has cleaned up, a moment later in the member's
    // process: 100 tries 100 ms apart (a bound), not 50 back to back, which a loaded machine
    // could use up before the member ran at all.
    let greeting = '';
    for (let attempt = 0; attempt < 100 && !greeting.startsWith('+OK'); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
      const again = await LineClient.connect(m.pop3Port);
      clients.push(again);
      greeting = await again.readLine();
    }
    expect(greeting).toMatch(/^\+OK .* POP3 ready$/);
  });
});
