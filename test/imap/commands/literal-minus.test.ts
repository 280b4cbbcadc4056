/**
 * RFC 7888 non-synchronising literals on a real node over a raw socket.
 *
 * Before login the server advertises LITERAL- (§5): `{n+}` up to 4096
 * octets is read without a continuation; a bigger one gets a tagged
 * `BAD [TOOBIG]` (§5) and, being small enough to drop, is read and dropped
 * so the session goes on (§4, first choice). After login LITERAL+ (§3)
 * replaces it; the two are never advertised together (§5).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapConnect, imapLogin } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let node: TestNode;
const open: LineClient[] = [];
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function anon(): Promise<LineClient> {
  const { c } = await imapConnect(node.imapPort);
  open.push(c);
  return c;
}

function caps(line: string): string[] {
  return line.replace(/^\* CAPABILITY /, '').split(' ');
}

describe('RFC 7888 §5 LITERAL- before login', () => {
  it('the greeting and CAPABILITY name LITERAL- and not LITERAL+; after login LITERAL+ and not LITERAL-', async () => {
    const { c, greeting } = await imapConnect(node.imapPort);
    open.push(c);
    expect(greeting).toMatch(/ LITERAL- /);
    expect(greeting).not.toMatch(/LITERAL\+/);
    const [pre] = await c.command('a', 'CAPABILITY');
    expect(caps(pre)).toContain('LITERAL-');
    expect(caps(pre)).not.toContain('LITERAL+');
    const d = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(d);
    const [post] = await d.command('b', 'CAPABILITY');
    expect(caps(post)).toContain('LITERAL+');
    expect(caps(post)).not.toContain('LITERAL-');
  });

  type Row = [what: string, send: string, reply: string];
  it.each<Row>([
    ['{4096+} is read without a continuation', `a LOGIN nobody@example.com {4096+}\r\n${'p'.repeat(4096)}\r\n`, 'a NO [AUTHENTICATIONFAILED] Authentication failed'],
    ['{4097+} is BAD [TOOBIG], its bytes dropped', `a LOGIN {4097+}\r\n${'u'.repeat(4097)} pw\r\n`, 'a BAD [TOOBIG] Non-synchronizing literal too big before authentication'],
    ['{4097+} as the second literal of the command too', `a LOGIN {3+}\r\nann {4097+}\r\n${'p'.repeat(4097)}\r\n`, 'a BAD [TOOBIG] Non-synchronizing literal too big before authentication'],
  ])('%s; the session goes on', async (_what, send, reply) => {
    const c = await anon();
    c.write(send);
    c.send('b NOOP');
    expect(await c.readUntil((l) => l.startsWith('b '))).toEqual([reply, 'b OK NOOP completed']);
  });

  it('a synchronising literal over 4096 octets still gets its continuation (only {n+} is capped)', async () => {
    const c = await anon();
    c.send('a LOGIN nobody@example.com {4097}');
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(`${'p'.repeat(4097)}\r\n`);
    expect(await c.readLine()).toBe('a NO [AUTHENTICATIONFAILED] Authentication failed');
  });

  it('LOGIN with {n+} literals within the cap logs in', async () => {
    const c = await anon();
    c.write(`a LOGIN {${ALICE.address.length}+}\r\n${ALICE.address} {${ALICE.password.length}+}\r\n${ALICE.password}\r\n`);
    expect(await c.readLine()).toMatch(/^a OK \[CAPABILITY IMAP4rev1 .*LITERAL\+/);
  });
});
